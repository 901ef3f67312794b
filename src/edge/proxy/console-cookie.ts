/**
 * The console session cookie's names. Over https it is `__Host-keygate_console` with
 * `Path=/` (the `__Host-` prefix requires it), so browsers send it with every request to
 * the gateway's host: the proxy drops it from forwarded requests (edge/proxy/headers.ts).
 * Kept in its own tiny module so the hot path imports nothing else of the console.
 */
export const CONSOLE_COOKIE_SECURE = "__Host-keygate_console";
export const CONSOLE_COOKIE_PLAIN = "keygate_console";

/** A Cookie header without the console's cookie ("" when nothing else is left). */
export function withoutConsoleCookie(header: string): string {
  if (!header.includes("keygate_console")) return header;
  return header
    .split(";")
    .map((p) => p.trim())
    .filter((p) => {
      const name = p.slice(0, p.indexOf("=") < 0 ? p.length : p.indexOf("=")).trim();
      return p !== "" && name !== CONSOLE_COOKIE_SECURE && name !== CONSOLE_COOKIE_PLAIN;
    })
    .join("; ");
}
