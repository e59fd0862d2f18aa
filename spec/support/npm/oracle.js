// npm mailauth as a differential oracle for spec/npm_interop_spec.lua.
//   node oracle.js < jobs.json > results.json
// jobs.json: { "ns": "127.0.0.1@5353", "messages": [ { id, file, ip, helo, sender }, ... ] }
// Every DNS question goes to that one server (the Knot DNS the specs start),
// never to the system resolver: names are asked fully qualified (trailing
// dot) so c-ares appends no search domain.  Prints { id: { spf, dkim, dmarc } }.
'use strict';
const fs = require('fs');
const dns = require('dns');
const { authenticate } = require('mailauth');

const jobs = JSON.parse(fs.readFileSync(0, 'utf8'));
const [host, port] = jobs.ns.split('@');
const R = new dns.promises.Resolver({ timeout: 2000, tries: 1 });
R.setServers([`${host}:${port || 53}`]);
const resolver = (name, type) => R.resolve(name.endsWith('.') ? name : name + '.', type);

const pick = s => s && { result: s.result, comment: s.comment };

(async () => {
  const out = {};
  for (const m of jobs.messages) {
    const r = await authenticate(fs.readFileSync(m.file), {
      ip: m.ip, helo: m.helo, sender: m.sender, mta: 'mx.interop.example',
      resolver, disableArc: true, disableBimi: true
    });
    out[m.id] = {
      spf: r.spf && { result: r.spf.status.result, domain: r.spf.domain, comment: r.spf.status.comment,
                      smtp: r.spf.status.smtp },
      dkim: (r.dkim.results || []).map(d => ({
        result: d.status.result, domain: d.signingDomain, selector: d.selector,
        algorithm: d.algo, canonicalization: d.format, comment: d.status.comment
      })),
      dmarc: r.dmarc && {
        result: r.dmarc.status.result, domain: r.dmarc.domain, policy: r.dmarc.policy,
        p: r.dmarc.p, sp: r.dmarc.sp, comment: r.dmarc.status.comment,
        alignment: r.dmarc.alignment
      }
    };
  }
  process.stdout.write(JSON.stringify(out));
})().catch(e => { console.error(e && e.stack || e); process.exit(1); });
