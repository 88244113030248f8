/**
 * The one command a LAN visitor pastes on a machine that has only Node.js 20
 * (issue 22): `node -e '<bootstrap>' URL CODE SHA256 [CERT]`. The bootstrap
 * downloads the self-contained worker from this host, refuses it unless its
 * SHA-256 is the one in the command (and, over HTTPS, unless the host shows
 * the pinned certificate), caches it in ~/.colony-worker/bin and runs it with
 * the pairing code. Pairing then authenticates the host by the code itself
 * (remote/pairing-mac.ts): nothing to compare by eye.
 *
 * The script sits in single quotes, which sh, bash and zsh leave untouched
 * (no $, backtick or ! expansion), so it must contain no single quote.
 */
export const WORKER_BUNDLE_PATH = '/worker/colony-worker.mjs';

const BOOTSTRAP = [
  'const [u,c,h,f]=process.argv.slice(1),fs=require("fs"),p=require("path"),os=require("os");',
  'const die=m=>{console.error("colony: "+m);process.exit(1)};',
  'require(u.startsWith("https:")?"https":"http").get(u+"' + WORKER_BUNDLE_PATH + '",{rejectUnauthorized:false},r=>{',
  'const s=r.socket.getPeerCertificate&&r.socket.getPeerCertificate();',
  'if(f&&(!s||s.fingerprint256!==f))die("the host presented another TLS certificate than the one in this command: refusing (someone may be in between)");',
  'if(r.statusCode!==200)die("cannot download the worker: HTTP "+r.statusCode);',
  'const b=[];r.on("data",d=>b.push(d)).on("end",()=>{const w=Buffer.concat(b);',
  'if(require("crypto").createHash("sha256").update(w).digest("hex")!==h)die("the downloaded worker does not match the sha256 in this command: refusing to run it (someone may have changed it, or the host was updated: get a new command from the page)");',
  'const d=p.join(os.homedir(),".colony-worker","bin"),x=p.join(d,h+".mjs");fs.mkdirSync(d,{recursive:true,mode:448});fs.writeFileSync(x,w,{mode:384});',
  'console.log("colony: worker verified (sha256 "+h.slice(0,16)+"…), pairing");',
  'process.argv=[process.argv[0],x,"worker","--host",u,"--code",c].concat(f?["--tls-fingerprint",f]:[]);',
  'import(require("url").pathToFileURL(x).href)})}).on("error",e=>die("cannot reach "+u+": "+e.message))',
].join('');

/** The pasteable command: the bootstrap, then the host's URL, the pairing code, the worker's sha256 and the certificate to pin. */
export function bootstrapCommand(o: { url: string; code: string; sha256: string; certFingerprint: string | null }): string {
  return `node -e '${BOOTSTRAP}' ${o.url} ${o.code} ${o.sha256}${o.certFingerprint ? ` ${o.certFingerprint}` : ''}`;
}
