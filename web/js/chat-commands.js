// Commands typed in the room message box: `/nick NAME`, `/clear`, `/ping`, `/create [N]`,
// `/join CODE`, `/help`. Parsing only; the conversation view runs them.

const KNOWN = new Set(['nick', 'clear', 'ping', 'create', 'join', 'help']);

/**
 * Returns null for an ordinary message, else {cmd, arg} with cmd one of the known commands
 * or 'unknown' (arg is then the name typed). `//text` sends "/text" as a message.
 */
export function parseCommand(input) {
  const text = String(input ?? '').trim();
  if (!text.startsWith('/') || text.startsWith('//')) return null;
  const m = text.match(/^\/(\S+)\s*([\s\S]*)$/);
  const cmd = m[1].toLowerCase();
  const arg = m[2].trim();
  if (!KNOWN.has(cmd)) return { cmd: 'unknown', arg: cmd.slice(0, 30) };
  return { cmd, arg };
}

/** The text to send for an ordinary message (undoes the `//` escape). */
export function messageText(input) {
  const text = String(input ?? '').trim();
  return text.startsWith('//') ? text.slice(1) : text;
}
