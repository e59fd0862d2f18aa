#!/usr/bin/perl
# Differential oracle for spec/dkim_interop_spec.lua: Mail::DKIM (Debian's
# libmail-dkim-perl) verifies, fully offline.
#   maildkim_oracle.pl DIR
# DIR/dns.txt: "<name> <TXT value>" lines; DIR/jobs.txt: "verify\tIN\tOUT"
# lines (other jobs are ignored).  OUT gets Mail::DKIM's result word of the
# first signature: pass, fail, invalid, none.
use strict;
use warnings;
use Mail::DKIM::Verifier;
use Mail::DKIM::DNS;
use Net::DNS;

my $dir = shift or die "usage: $0 DIR\n";
my %dns;
open my $d, '<', "$dir/dns.txt" or die "dns.txt: $!\n";
while (my $line = <$d>) {
    $line =~ s/\r?\n\z//;
    next unless length $line;
    my ($name, $value) = split / /, $line, 2;
    $name = lc $name;
    $name =~ s/\.\z//;
    $dns{$name} = $value;
}
close $d;

{
    no warnings 'redefine';
    *Mail::DKIM::DNS::query = sub {
        my ($domain, $type) = @_;
        my $key = lc $domain;
        $key =~ s/\.\z//;
        my $v = $dns{$key};
        if (!defined $v) { $@ = 'NXDOMAIN'; return; }
        $@ = 'NOERROR';
        my @strings = $v eq '' ? ('') : unpack('(a255)*', $v);
        return Net::DNS::RR->new(name => $domain, type => 'TXT', txtdata => [@strings]);
    };
}

open my $jobs, '<', "$dir/jobs.txt" or die "jobs.txt: $!\n";
while (my $job = <$jobs>) {
    chomp $job;
    my ($op, $in, $out) = split /\t/, $job;
    next unless defined $op && $op eq 'verify';
    my $v = Mail::DKIM::Verifier->new();
    open my $m, '<:raw', "$dir/$in" or die "$in: $!\n";
    while (my $line = <$m>) {
        $line =~ s/\015?\012\z/\015\012/;
        $v->PRINT($line);
    }
    close $m;
    $v->CLOSE;
    my $sig = ($v->signatures)[0];
    my $word = $sig ? $sig->result : $v->result;
    open my $o, '>', "$dir/$out" or die "$out: $!\n";
    print $o $word, ($sig && $sig->result_detail ? ": " . $sig->result_detail : "");
    close $o;
}
