// Checks of remote endpoint names and addresses, and where their tokens are kept: pure, unit tested.
import { checkEndpointUrl as checkClientUrl } from '../trainer/protocolClient';

export interface Endpoint {
  name: string;
  url: string;
}

export const ENDPOINT_NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;

export function secretKeyOf(endpointName: string): string {
  return `modelfactory.endpoint.token/${endpointName}`;
}

/**
 * A usable remote address, or why not: the protocol client's own check, and wss:// only (the client
 * allows ws:// for loopback, which is the local trainer's business, not a remote endpoint's).
 */
export function checkEndpointUrl(raw: string): string | undefined {
  let url: URL;
  try {
    url = checkClientUrl(raw.trim());
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  return url.protocol === 'wss:'
    ? undefined
    : 'Use a wss:// address: the token must not cross the network unencrypted.';
}

export function checkEndpointName(raw: string, existing: readonly Endpoint[]): string | undefined {
  if (!ENDPOINT_NAME.test(raw))
    return 'Letters, digits, space, ".", "_" or "-", starting with a letter or digit (at most 64).';
  if (raw === 'local') return '"local" is the local trainer.';
  if (existing.some((e) => e.name === raw)) return `An endpoint named "${raw}" exists.`;
  return undefined;
}
