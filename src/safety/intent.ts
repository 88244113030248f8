/**
 * The "constitutional" intent screen: documented patterns for requests that
 * are clearly malicious whatever the repository. Coding vocabulary ("delete
 * the dist folder", "rm -rf node_modules", "scan the repo") must pass, so the
 * high-severity rules are anchored on concrete artefacts (a secret path next
 * to a network sink, `rm` aimed at `/` or `~`, a miner binary, `/dev/tcp`)
 * and the loose natural-language variants are medium (ask the admin).
 *
 * severity high → deny, medium → needs_approval. Rules run on the raw text
 * and on its detection view (NFKC, invisible characters removed), and on
 * base64 blobs that decode to text. There are no bypass words.
 */
import { compilePatternRules, matchRulesDeep, verdictFromHits, type PatternRule, type Verdict } from './verdict.js';

// Secrets worth stealing, as they appear in commands and requests. `.env.example`
// and friends are templates without secrets and are deliberately not secrets.
const SECRET = String.raw`(?:~\/\.ssh\b[^\s'"|;&]*|\/\.ssh\/[^\s'"|;&]*|\bid_(?:rsa|dsa|ecdsa|ed25519)(?:_sk)?\b(?!\.pub)|(?<![\w.-])\.env(?![\w.-]*\.(?:example|sample|template|dist)\b)(?:\.[\w-]+)?\b|\.aws\/credentials|\baws[_ ](?:secret[_ ])?(?:access[_ ])?keys?(?:_id)?\b|\/etc\/shadow|\bprivate[_ ]keys?\b|\.netrc\b|\.pgpass\b|\bwallet\.dat\b|\.kube\/config\b|\.docker\/config\.json)`;
const NET_SINK = String.raw`(?:curl|wget|nc|ncat|netcat|socat|telnet|ssh|openssl\s+s_client|mail|sendmail)`;
const REMOTE_TARGET = String.raw`(?:https?:\/\/|ftp:\/\/|\bwebhook|\bpastebin|\bngrok|\brequestbin|\b(?:my|remote|external|attacker'?s?|our|this)\s+(?:server|host|machine|endpoint|url)|[\w.+-]+@[\w-]+\.[a-z]{2,}|\b\d{1,3}(?:\.\d{1,3}){3}\b)`;
const SYS_DIR = String.raw`(?:etc|usr|var|bin|sbin|boot|lib|lib32|lib64|opt|home|root|sys|proc|dev|srv|System|Library|Users|Applications)`;
const ROOTISH = String.raw`["']?(?:\/\*?|~\/?\*?|\$HOME\/?\*?|\$\{HOME\}\/?\*?|\/${SYS_DIR}\/?\*?)["']?(?=\s|$|[;&|)\`])`;
const SHELL = String.raw`(?:\/bin\/|\/usr\/bin\/)?(?:ba|z|da|k)?sh\b`;

const re = (source: string, flags = 'i'): RegExp => new RegExp(source, flags);

export const INTENT_RULES: readonly PatternRule[] = Object.freeze([
  {
    id: 'exfil.pipe-secret',
    severity: 'high',
    description: 'a secret file or the environment is piped or uploaded to a network tool',
    patterns: [
      re(String.raw`\b(?:cat|base64|xxd|gzip|tar|zip|openssl|gpg|head|tail|strings)\b[^\n|;&]{0,80}${SECRET}[^\n]{0,80}\|\s*${NET_SINK}\b`),
      re(
        String.raw`\b(?:curl|wget|http)\b[^\n]{0,120}(?:-d|--data(?:-binary|-raw|-urlencode)?|-F|--form|-T|--upload-file|--post-file|--body-file)[\s=]*['"]?(?:[\w-]+=)?@?[^\s'"]{0,80}?${SECRET}`,
      ),
      re(String.raw`\b(?:nc|ncat|netcat|socat|telnet)\b[^\n]{0,80}<\s*[^\s'"]{0,80}?${SECRET}`),
      re(String.raw`\b(?:scp|rsync)\b[^\n]{0,60}${SECRET}[^\n]{0,80}\s[\w.-]+@[\w.-]+:`),
      re(String.raw`\b(?:env|printenv)\b\s*\|\s*${NET_SINK}\b`),
    ],
  },
  {
    id: 'exfil.send-secret',
    severity: 'high',
    description: 'a request to send credentials or keys to a remote destination',
    patterns: [
      re(String.raw`\b(?:send|upload|post|exfiltrate|transmit|forward|e-?mail|leak|beam|smuggle)\b[^\n]{0,80}?${SECRET}[^\n]{0,100}?${REMOTE_TARGET}`),
    ],
  },
  {
    id: 'exfil.secret-read',
    severity: 'medium',
    description: 'reads SSH keys, cloud credentials or the shadow file',
    patterns: [
      re(
        String.raw`\b(?:cat|less|more|head|tail|base64|xxd|strings|print|dump|read|show|display|output|reveal|copy|cp)\b[^\n]{0,40}(?:~\/\.ssh\/|\/\.ssh\/|\bid_(?:rsa|dsa|ecdsa|ed25519)\b(?!\.pub)|\.aws\/credentials|\/etc\/shadow|\bwallet\.dat\b|\.kube\/config|\.docker\/config\.json)`,
      ),
      re(String.raw`\bexfiltrat(?:e|es|ed|ing|ion)\b`),
    ],
  },
  {
    id: 'destroy.rm-root',
    severity: 'high',
    description: 'rm aimed at /, the home directory or a system directory',
    patterns: [
      re(String.raw`\brm\s+(?:-{1,2}[\w-]+\s+){0,8}${ROOTISH}`),
      re(String.raw`--no-preserve-root\b`),
      re(String.raw`\bfind\s+(?:\/|~\/?|\$HOME)\s[^\n]{0,80}(?:-delete\b|-exec\s+rm\b)`),
      re(String.raw`\b(?:rd|rmdir|del)\s+\/s\b[^\n]{0,20}[a-z]:\\(?:\s|$|\*|windows)|\bformat\s+[a-z]:(?:\s|$)`),
    ],
  },
  {
    id: 'destroy.disk',
    severity: 'high',
    description: 'formats or overwrites a disk device',
    patterns: [
      re(String.raw`\bmkfs(?:\.\w+)?\b|\bmke2fs\b|\bwipefs\b`),
      re(String.raw`\bdd\b[^\n]{0,80}\bof=\/dev\/(?!null\b|zero\b|stdout\b|stderr\b|shm\/)[\w/-]+`),
      re(String.raw`(?:>|\bshred\b[^\n]{0,40})\s*\/dev\/(?:sd[a-z]|hd[a-z]|vd[a-z]|xvd[a-z]|nvme\d|mmcblk\d|disk\d)`),
    ],
  },
  {
    id: 'destroy.fork-bomb',
    severity: 'high',
    description: 'a fork bomb',
    patterns: [re(String.raw`:\(\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;?\s*:`), re(String.raw`\b(\w+)\s*\(\)\s*\{\s*\1\s*\|\s*\1\s*&\s*\}`)],
  },
  {
    id: 'destroy.chmod-root',
    severity: 'high',
    description: 'recursive chmod/chown of / , the home directory or a system directory',
    patterns: [re(String.raw`\bch(?:mod|own|grp)\s+(?:-\S+\s+){0,8}(?:-[a-zA-Z]*R[a-zA-Z]*|--recursive)\s+(?:\S+\s+)?${ROOTISH}`)],
  },
  {
    id: 'destroy.language',
    severity: 'medium',
    description: 'asks in words to wipe disks or the whole system',
    patterns: [
      re(String.raw`\bfork[- ]?bomb\b`),
      re(
        String.raw`\b(?:wipe|erase|destroy|nuke|trash)\b[^.\n]{0,30}\b(?:hard ?drives?|disks?|file ?systems?|partitions?|(?:whole|entire) (?:system|machine|computer|server)|root directory|home directory)\b`,
      ),
      re(String.raw`\bformat\s+(?:the\s+)?(?:hard\s?drive|(?:system|boot|root|main)\s+(?:disk|drive|partition))\b`),
      re(String.raw`\bdelete\s+(?:all|every)\s+files?\s+(?:on|in|from)\s+(?:the|this|my)\s+(?:system|machine|computer|server|home directory|disk)\b`),
    ],
  },
  {
    id: 'safety.disable',
    severity: 'high',
    description: 'asks to turn off the sandbox, kill switch, audit or other safety controls',
    patterns: [
      re(
        String.raw`\b(?:disable|turn\s+off|switch\s+off|shut\s+(?:off|down)|bypass|circumvent|deactivate|evade|get\s+around|defeat|neuter)\s+(?:the\s+|colony'?s?\s+|all\s+|any\s+|your\s+|its\s+){0,8}(?:sandbox(?:ing)?|kill[- ]?switch|audit(?:ing|\s+log(?:ging|s)?|\s+trail)?|safety(?:\s+(?:checks?|gateway|rules|filters?|guards?|screens?|measures))?|guardrails?|security\s+checks?|network\s+allow-?list|intent\s+screen|injection\s+(?:screen|filter|checks?))\b`,
      ),
    ],
  },
  {
    id: 'safety.delete-audit',
    severity: 'high',
    description: 'deletes or rewrites the audit log, the colony database or the HALT file',
    patterns: [
      re(
        String.raw`\b(?:delete|remove|truncate|erase|wipe|clear|purge|rm)\s+(?:-\S+\s+){0,8}(?:the\s+|all\s+){0,8}(?:audit\s+(?:log|trail|records?|entries|table|history)|\S{0,200}\.colony\/?(?=\s|$|[;&|])|\S{0,200}colony\.db\b|\S{0,200}\.colony\/HALT\b)`,
      ),
      re(String.raw`\b(?:DELETE\s+FROM|DROP\s+TABLE(?:\s+IF\s+EXISTS)?|TRUNCATE(?:\s+TABLE)?|UPDATE)\s+["'\x60]?audit\w*`),
    ],
  },
  {
    id: 'safety.config-off',
    severity: 'medium',
    description: 'switches a safety check off in the colony configuration',
    patterns: [re(String.raw`"(?:intent|injection|sandbox|network)"\s*:\s*false\b`)],
  },
  {
    id: 'mining.miner-binary',
    severity: 'high',
    description: 'runs or installs a cryptocurrency miner',
    patterns: [re(String.raw`\b(?:xmrig|xmr-stak|minerd|cpuminer(?:-multi)?|cgminer|bfgminer|ethminer|nbminer|phoenixminer|lolminer|nanominer|srbminer)\b`)],
  },
  {
    id: 'mining.stratum',
    severity: 'high',
    description: 'connects to a mining pool (stratum protocol)',
    patterns: [re(String.raw`\bstratum\+(?:tcp|ssl|tls):\/\/`)],
  },
  {
    id: 'mining.language',
    severity: 'medium',
    description: 'asks in words to mine cryptocurrency',
    patterns: [
      re(String.raw`\b(?:mine|mining)\s+(?:for\s+|some\s+)?(?:bitcoin|btc|monero|xmr|crypto(?:currenc(?:y|ies))?|ethereum|eth|litecoin|dogecoin|coins?)\b`),
      re(String.raw`\b(?:install|run|start|deploy|launch)\s+(?:a\s+|an\s+|the\s+)?(?:crypto(?:currency)?[- ]?|bitcoin[- ]|monero[- ])miner\b`),
    ],
  },
  {
    id: 'scan.mass-scanner',
    severity: 'high',
    description: 'runs an internet-scale port scanner',
    patterns: [re(String.raw`\b(?:masscan|zmap|zgrab2?|unicornscan)\b`)],
  },
  {
    id: 'scan.nmap-range',
    severity: 'high',
    description: 'nmap over a subnet, address range or random targets',
    patterns: [
      re(
        String.raw`\bnmap\b[^\n]{0,120}?(?:\b\d{1,3}(?:\.\d{1,3}){3}\/\d{1,2}\b|\b\d{1,3}(?:\.\d{1,3}){3}-\d{1,3}\b|\b\d{1,3}(?:\.\d{1,3}){2}\.\*|\s-iR\b|[0-9a-f]*::[0-9a-f:]*\/\d{1,3})`,
      ),
    ],
  },
  {
    id: 'scan.language',
    severity: 'medium',
    description: 'network scanning (nmap, port scans, sweeping a network for hosts)',
    patterns: [
      re(String.raw`\bnmap\b`),
      re(String.raw`\bport[- ]?scan(?:s|ning|ner)?\b`),
      re(
        String.raw`\b(?:scan|sweep|probe|map)\s+(?:the\s+|all\s+|every\s+|our\s+|my\s+){0,8}(?:whole\s+|entire\s+|local\s+|office\s+){0,8}(?:subnet|network|lan|internet|ip\s+range|ip\s+addresses)\s+for\s+(?:open\s+ports|hosts|live\s+hosts|services|vulnerabilit(?:y|ies)|ssh|devices)\b`,
      ),
    ],
  },
  {
    id: 'revshell.dev-tcp',
    severity: 'high',
    description: 'shell redirected to /dev/tcp or /dev/udp (reverse shell)',
    patterns: [re(String.raw`\/dev\/(?:tcp|udp)\/[\w.-]+\/\d+`)],
  },
  {
    id: 'revshell.netcat-exec',
    severity: 'high',
    description: 'netcat/socat/mkfifo wired to a shell (reverse or bind shell)',
    patterns: [
      re(String.raw`\b(?:nc|ncat|netcat)\b[^\n|;]{0,80}\s-[a-zA-Z]*[ec]\s+\S*?${SHELL}`),
      re(String.raw`\bmkfifo\b[^\n]{0,120}\b(?:nc|ncat|netcat|telnet|openssl)\b`),
      re(String.raw`\bsocat\b[^\n]{0,120}\bexec:[^\n]{0,40}${SHELL}`),
      re(String.raw`${SHELL}\s+-i\b[^\n]{0,20}\|\s*(?:nc|ncat|netcat|telnet)\b`),
    ],
  },
  {
    id: 'revshell.code',
    severity: 'high',
    description: 'reverse-shell code (socket duplicated onto stdio, PowerShell TCP client)',
    patterns: [
      re(String.raw`\bos\.dup2\s*\(\s*\w+\.fileno\(\)`),
      re(String.raw`\bfsockopen\s*\([^\n]{0,200}\b(?:exec|shell_exec|system|proc_open|passthru)\b`),
      re(String.raw`New-Object\s+System\.Net\.Sockets\.TCPClient`),
    ],
  },
  {
    id: 'revshell.language',
    severity: 'medium',
    description: 'asks in words for a reverse/bind shell or a backdoor',
    patterns: [re(String.raw`\b(?:reverse|bind|back-?connect)[- ]shell\b|\bbackdoor\b`)],
  },
  {
    id: 'persist.authorized-keys',
    severity: 'high',
    description: 'adds a key to ~/.ssh/authorized_keys (persistent remote access)',
    patterns: [
      re(String.raw`>>?\s*["']?(?:~|\$HOME|\/root|\/home\/[\w.-]+)?\/?\.ssh\/authorized_keys\b`),
      re(String.raw`\b(?:add|append|insert|write)\b[^\n]{0,60}\bauthorized_keys\b`),
    ],
  },
  {
    id: 'exec.decode-and-run',
    severity: 'medium',
    description: 'decodes an obfuscated payload and executes it',
    patterns: [
      re(String.raw`\bbase64\s+(?:-d|--decode|-D)\b[^\n]{0,80}\|\s*(?:sudo\s+)?${SHELL}`),
      re(String.raw`\beval\s*\(\s*(?:atob|Buffer\.from)\s*\(`),
      re(String.raw`\bexec\s*\(\s*(?:base64\.b64decode|codecs\.decode|zlib\.decompress)`),
    ],
  },
  {
    id: 'exec.curl-pipe-shell',
    severity: 'medium',
    description: 'downloads a script and pipes it straight into a shell',
    patterns: [re(String.raw`\b(?:curl|wget)\b[^\n|]{0,200}\|\s*(?:sudo\s+)?${SHELL}`)],
  },
]);

/** Screens task text against the intent rules (built-ins plus configured ones). Pure. */
export function screenIntent(text: string, rules: readonly PatternRule[] = INTENT_RULES): Verdict {
  return verdictFromHits('intent', matchRulesDeep(text, rules));
}

/**
 * The built-in rules plus `safety.extra_deny_patterns` (high, ids
 * `config.deny.<n>`) and `safety.extra_approval_patterns` (medium, ids
 * `config.approve.<n>`). Invalid regexes come back as problems so start-up can
 * list them all (the config schema cannot check regex syntax).
 */
export function intentRulesFromConfig(safety: { extra_deny_patterns: readonly string[]; extra_approval_patterns?: readonly string[] }): {
  rules: PatternRule[];
  problems: string[];
} {
  const deny = compilePatternRules('config.deny', 'high', safety.extra_deny_patterns);
  const approve = compilePatternRules('config.approve', 'medium', safety.extra_approval_patterns ?? []);
  return { rules: [...INTENT_RULES, ...deny.rules, ...approve.rules], problems: [...deny.problems, ...approve.problems] };
}
