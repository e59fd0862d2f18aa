// check_npm.js: npm mailauth 4.x (spec/support/npm, `sh spec/support/deps.sh`
// installs it) authenticate() on the interop messages, every DNS answer
// from memory: its resolver option is a function (name, type) -> records,
// here reading check_json.py's map of the same zones mailauth reads.
// usage: node check_npm.js check|bench SECONDS JSON MESSAGES
// check: "id spf dkim dmarc" a line.  bench: "BENCH best r1 r2 r3" in
// messages per CPU second (process.cpuUsage: user + system).
'use strict';
const fs = require('fs');
const path = require('path');

let authenticate;
try {
  ({ authenticate } = require(path.join(__dirname, '../spec/support/npm/node_modules/mailauth')));
} catch (e) {
  console.log('UNAVAILABLE npm mailauth is not installed (sh spec/support/deps.sh)');
  process.exit(0);
}

const args = process.argv.slice(2);
const mode = args.shift();
const seconds = mode === 'bench' ? parseFloat(args.shift()) : 0;
const zone = JSON.parse(fs.readFileSync(args[0], 'utf8'));
const msgs = fs.readFileSync(args[1], 'utf8').split('\n').filter(Boolean).map(l => {
  const [id, file, ip, helo, sender] = l.split('\t');
  return { id, text: fs.readFileSync(file), ip, helo, sender };
});

function fail(code) {
  const e = new Error(code);
  e.code = code;
  return e;
}
// dns.promises.resolve's contract: the records, or ENOTFOUND / ENODATA.
async function resolver(name, type) {
  const node = zone[name.toLowerCase().replace(/\.$/, '')];
  if (!node) throw fail('ENOTFOUND');
  const rr = node[type] || (type !== 'CNAME' && node.CNAME ? null : undefined);
  if (rr === null) return resolver(node.CNAME[0], type);
  if (!rr) throw fail('ENODATA');
  return rr;
}

function one(m) {
  return authenticate(m.text, { ip: m.ip, helo: m.helo, sender: m.sender,
    mta: 'mx.interop.example', resolver, disableBimi: true });
}

function cpu() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

(async () => {
  if (mode === 'check') {
    for (const m of msgs) {
      const r = await one(m);
      const d = (r.dkim && r.dkim.results) || [];
      console.log([m.id, r.spf ? r.spf.status.result : 'none',
        d.length ? d[0].status.result : 'none',
        r.dmarc ? r.dmarc.status.result : 'none'].join('\t'));
    }
    return;
  }
  for (const m of msgs) await one(m); // warm-up
  const rounds = [];
  for (let k = 0; k < 3; k++) {
    let n = 0;
    const start = cpu();
    let used = 0;
    do {
      for (const m of msgs) await one(m);
      n += msgs.length;
      used = cpu() - start;
    } while (used < seconds);
    rounds.push(n / used);
  }
  console.log('BENCH ' + Math.max(...rounds).toFixed(1) + ' ' + rounds.map(r => r.toFixed(1)).join(' '));
})().catch(e => { console.error(e && e.stack || e); process.exit(1); });
