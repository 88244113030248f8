/** The system directories appended (when missing) to a bundled worker's PATH: where the OS sandbox and the shell live. */
const SYSTEM_DIRS: Readonly<Record<string, readonly string[]>> = {
  linux: ['/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin'],
  darwin: ['/usr/local/bin', '/opt/homebrew/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin'],
};

export function withSystemPath(path: string, platform: string): string {
  const have = path.split(':').filter(Boolean);
  const add = (SYSTEM_DIRS[platform] ?? []).filter((d) => !have.includes(d));
  return [...have, ...add].join(':');
}
