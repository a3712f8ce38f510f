// The webview side of the host channel: one `acquireVsCodeApi()` per page, typed posting, validated
// receiving and state that survives the panel being hidden or VS Code reloading.

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

const api: VsCodeApi = acquireVsCodeApi();

export function post<M>(message: M): void {
  api.postMessage(message);
}

/** Calls `handler` with each message from the host that `parse` accepts; anything else is dropped. */
export function onHostMessage<M>(parse: (raw: unknown) => M | null, handler: (message: M) => void): void {
  window.addEventListener('message', (event: MessageEvent<unknown>) => {
    const message = parse(event.data);
    if (message === null) {
      console.warn('ModelFactory: ignored a malformed message from the extension host');
      return;
    }
    handler(message);
  });
}

export function loadState<S>(parse: (raw: unknown) => S | null): S | null {
  return parse(api.getState());
}

export function saveState<S>(state: S): void {
  api.setState(state);
}
