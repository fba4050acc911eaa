/** Query or fragment parameter names whose values are credentials. */
const SECRET_PARAM = /token|key|secret|passw|pwd|auth|credential|session|sig/i;

function redactParams(part: string, lead: "?" | "#"): string {
  if (part.length <= 1) return part;
  const params = part
    .slice(1)
    .split("&")
    .map((p) => {
      const eq = p.indexOf("=");
      if (eq < 0) return p;
      let name = p.slice(0, eq);
      try {
        name = decodeURIComponent(name.replace(/\+/g, " "));
      } catch {
        // Malformed escapes: judge the raw name.
      }
      return SECRET_PARAM.test(name) ? `${p.slice(0, eq)}=<redacted>` : p;
    });
  return `${lead}${params.join("&")}`;
}

/**
 * A URL as it may be logged or printed: user info (`user:pass@`) and the
 * values of query or fragment parameters named like credentials
 * (`access_token`, `key`, `password`, ...) become `<redacted>`. Anything that
 * is not an absolute URL with a scheme is returned as given.
 */
export function redactUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return value;
  }
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return value;
  const hasUserInfo = url.username !== "" || url.password !== "";
  const search = redactParams(url.search, "?");
  const hash = redactParams(url.hash, "#");
  // Nothing to hide: exactly as given (no normalisation).
  if (!hasUserInfo && search === url.search && hash === url.hash) return value;
  return `${url.protocol}//${hasUserInfo ? "<redacted>@" : ""}${url.host}${url.pathname}${search}${hash}`;
}
