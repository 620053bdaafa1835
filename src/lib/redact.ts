/**
 * The one helper that keeps credentials out of anything noburn prints or logs
 * (docs/operations.md "Secrets"): every URL's password (`https://user:***@host`), a bare
 * user-info token (`https://***@host`), and query parameters that carry secrets
 * (`?password=***`). NoburnError applies it to every message, the CLI to whatever it
 * prints, and serve's logger to every field, so no caller has to remember.
 */
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@"'<>]*)@/gi;
const SECRET_PARAMS = /([?&;](?:password|passwd|pwd|pass|sslpassword|secret|token|access_token|api_?key|key)=)[^&#\s"']*/gi;

export function redactSecrets(text: string): string {
  if (!text.includes('://') && !text.includes('=')) return text;
  return text
    .replace(USERINFO, (_m, scheme: string, info: string) => {
      const colon = info.indexOf(':');
      return colon < 0 ? `${scheme}***@` : `${scheme}${info.slice(0, colon)}:***@`;
    })
    .replace(SECRET_PARAMS, '$1***');
}
