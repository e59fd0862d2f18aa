#!/usr/bin/perl
# Mail::DMARC (Debian libmail-dmarc-perl) as an offline oracle for
# spec/dmarc_oracle_spec.lua.  Reads a JSON array of cases from the file in
# ARGV[0]: { zone => { name => { TXT => [..], A => [..] } }, from, spf, dkim,
# roll }, and prints a JSON array of { result, disposition, spf, dkim, p }.
# DNS comes from each case's zone through a stand-in for Net::DNS::Resolver;
# rand() is replaced by the case's roll so pct sampling is deterministic.
use strict;
use warnings;

our $ROLL = 0;
BEGIN { *CORE::GLOBAL::rand = sub { return $ROLL }; }

use JSON::PP;
use Net::DNS;
require Mail::DMARC::PurePerl;

# cjson writes an empty list as {}: both read as no items.
sub main::arr { my $x = shift; return ref($x) eq 'ARRAY' ? @$x : (); }

package ZoneResolver;
sub new { my ($class, $zone) = @_; return bless { zone => $zone }, $class; }
sub _packet {
    my ($self, $name, $type) = @_;
    my $node = $self->{zone}{ lc $name };
    my $p = Net::DNS::Packet->new($name, $type);
    if (!$node) { $p->header->rcode('NXDOMAIN'); return $p; }
    for my $data (main::arr($node->{$type})) {
        my %rr = (name => $name, type => $type, ttl => 300);
        if ($type eq 'TXT') { $rr{txtdata} = [ unpack '(A255)*', $data ]; }
        elsif ($type eq 'A' || $type eq 'AAAA') { $rr{address} = $data; }
        elsif ($type eq 'MX') { $rr{exchange} = $data; $rr{preference} = 10; }
        elsif ($type eq 'NS') { $rr{nsdname} = $data; }
        $p->push(answer => Net::DNS::RR->new(%rr));
    }
    return $p;
}
sub send { my ($self, $name, $type) = @_; return $self->_packet($name, $type || 'A'); }
sub query {
    my ($self, $name, $type) = @_;
    my $p = $self->_packet($name, $type || 'A');
    return scalar($p->answer) ? $p : undef;
}
sub errorstring { return 'NOERROR'; }

package main;

my $file = shift or die "usage: $0 cases.json\n";
open my $fh, '<', $file or die "$file: $!\n";
my $cases = decode_json(do { local $/; <$fh> });
my @out;
for my $c (@$cases) {
    $ROLL = $c->{roll} // 0;
    my $d = Mail::DMARC::PurePerl->new;
    $d->set_resolver(ZoneResolver->new($c->{zone}));
    $d->source_ip('192.0.2.1');
    $d->header_from($c->{from});
    $d->dkim([ map { { domain => $_->{domain}, selector => 's', result => $_->{result} } } main::arr($c->{dkim}) ]);
    $d->spf({ domain => $c->{spf}{domain}, scope => 'mfrom', result => $c->{spf}{result} }) if $c->{spf};
    $d->spf([]) if !$c->{spf};
    my $r = eval { $d->validate };
    if (!$r) { push @out, { error => "$@" }; next; }
    my $p = eval { $r->published && $r->published->p };
    push @out, { result => $r->result, disposition => $r->disposition,
                 spf => ($r->spf // ''), dkim => ($r->dkim // ''), p => $p };
}
print encode_json(\@out), "\n";
