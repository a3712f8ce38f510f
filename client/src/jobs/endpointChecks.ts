// Checks of remote endpoint names and addresses, and where their tokens are kept: pure, unit tested.

export interface Endpoint {
  name: string;
  url: string;
}

export const ENDPOINT_NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;

export function secretKeyOf(endpointName: string): string {
  return `modelfactory.endpoint.token/${endpointName}`;
}

/** A usable wss:// address, or why not. Plain ws:// is refused: the token would cross the network in clear. */
export function checkEndpointUrl(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return 'Not a URL. Example: wss://gpu-box.example.com:8765';
  }
  if (url.protocol !== 'wss:') return 'Use a wss:// address: the token must not cross the network unencrypted.';
  if (url.username || url.password) return 'Put no credentials in the address; the token is asked for separately.';
  if (url.search || url.hash) return 'Put no query or fragment in the address.';
  return undefined;
}

export function checkEndpointName(raw: string, existing: readonly Endpoint[]): string | undefined {
  if (!ENDPOINT_NAME.test(raw))
    return 'Letters, digits, space, ".", "_" or "-", starting with a letter or digit (at most 64).';
  if (raw === 'local') return '"local" is the local trainer.';
  if (existing.some((e) => e.name === raw)) return `An endpoint named "${raw}" exists.`;
  return undefined;
}
