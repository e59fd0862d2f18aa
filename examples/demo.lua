-- The sample connections `make demo` checks, answered from examples/zones.
-- Data only: each is what an MTA knows when a message arrives (client
-- address, HELO, MAIL FROM) and the message itself.  The messages are
-- signed by dkimpy (make-messages.py); `now` fixes the clock.
return {
  authserv_id = "mx.example.net",
  now = 1795700000,
  tenants = { { domain = "contoso.onmicrosoft.com", domains = { "contoso.com" } } },
  connections = {
    {
      title = "Exchange Online (Microsoft 365) sending for contoso.com",
      ip = "40.107.22.50", helo = "EUR03-DB5-obe.outbound.protection.outlook.com",
      sender = "alice@contoso.com", message = "messages/m365-contoso.eml",
      note = "PTR and IP are shared by every Microsoft 365 tenant: evidence, not trust",
      expect = { iprev = "pass", dmarc = "pass", verdict = "accept" },
    },
    {
      title = "Another tenant (fabrikam) forging contoso.com through the same pool",
      ip = "40.107.22.50", helo = "EUR03-DB5-obe.outbound.protection.outlook.com",
      sender = "bounces@fabrikam.com", message = "messages/m365-cross-tenant-spoof.eml",
      note = "same IP, same PTR, SPF passes for fabrikam.com: only DKIM/DMARC tell them apart",
      expect = { iprev = "pass", spf = "pass", dmarc = "fail", verdict = "reject" },
    },
    {
      title = "A small company's own mail server",
      ip = "192.0.2.25", helo = "mx.example.net", sender = "bob@example.net",
      message = "messages/own-server.eml",
      expect = { iprev = "pass", dmarc = "pass", verdict = "accept" },
    },
    {
      title = "A host claiming example.net's name through its PTR",
      ip = "198.51.100.66", helo = "mx.example.net", sender = "ceo@example.net",
      message = "messages/spoof-no-signature.eml",
      note = "the PTR says mx.example.net, but that name does not map back",
      expect = { iprev = "fail", spf = "fail", dmarc = "fail", verdict = "quarantine" },
    },
    {
      title = "A host with no reverse DNS at all",
      ip = "203.0.113.9", helo = "localhost", sender = "",
      message = "messages/spoof-no-signature.eml",
      expect = { iprev = "permerror", dmarc = "fail", verdict = "quarantine" },
    },
    {
      title = "Another tenant (evil.onmicrosoft.com) signing for contoso.onmicrosoft.com",
      ip = "40.107.22.50", helo = "EUR03-DB5-obe.outbound.protection.outlook.com",
      sender = "ceo@evil.onmicrosoft.com", message = "messages/m365-onmicrosoft-spoof.eml",
      note = "onmicrosoft.com is no public suffix, but one tenant is not another: no relaxed alignment",
      expect = { iprev = "pass", dmarc = "fail", verdict = "reject" },
    },
  },
}
