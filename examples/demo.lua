-- The sample connections `make demo` checks, answered from examples/zones.
-- Data only: each is what an MTA knows when a message arrives.
return {
  connections = {
    {
      title = "Exchange Online (Microsoft 365) sending for contoso.com",
      ip = "40.107.22.50", helo = "EUR03-DB5-obe.outbound.protection.outlook.com",
      sender = "alice@contoso.com",
      note = "PTR and IP are shared by every Microsoft 365 tenant: evidence, not trust",
      expect = { iprev = "pass" },
    },
    {
      title = "A small company's own mail server",
      ip = "192.0.2.25", helo = "mx.example.net", sender = "bob@example.net",
      expect = { iprev = "pass" },
    },
    {
      title = "A host claiming example.net's name through its PTR",
      ip = "198.51.100.66", helo = "mx.example.net", sender = "ceo@example.net",
      note = "the PTR says mx.example.net, but that name does not map back",
      expect = { iprev = "fail" },
    },
    {
      title = "A host with no reverse DNS at all",
      ip = "203.0.113.9", helo = "localhost", sender = "",
      expect = { iprev = "permerror" },
    },
  },
}
