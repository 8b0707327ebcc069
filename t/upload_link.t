#!/usr/bin/perl

# Tests that a body spooled by nginx on the data's file system becomes the
# upload's data by a hard link, not a copy (found by strace: nginx unlinked
# its spool file at once, so the library always fell back to copying).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(sleep time);
use Hephaestus::Test qw(:all);

my $t = Hephaestus::Test->new(workers => 1)->run();
my $spool = $t->dir . '/client_body_temp';

my $r = $t->post('/v2/link/me/blobs/uploads/');
is($r->{status}, 202, 'start upload');
my ($uuid) = hdr($r, 'location') =~ m{/uploads/([0-9a-f-]+)$};
ok($uuid, 'upload id');

# send the head and half of the body, then find nginx's spool file

my $body = join '', map { chr(($_ * 7) % 251) } 0 .. 4 * 1024 * 1024 - 1;
my $half = length($body) / 2;
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port,
    Proto => 'tcp') or die "connect: $!";
print $s "PATCH /v2/link/me/blobs/uploads/$uuid HTTP/1.1\r\n"
    . "Host: 127.0.0.1\r\nContent-Length: " . length($body) . "\r\n"
    . "Connection: close\r\n\r\n" . substr($body, 0, $half);

my ($file, $deadline) = (undef, time + 10);
while (!$file && time < $deadline) {
    opendir(my $dh, $spool) or die "$spool: $!";
    ($file) = grep { -f "$spool/$_" } readdir $dh;
    closedir $dh;
    sleep 0.05 unless $file;
}
ok($file, 'nginx spools the body to a file');
my $ino = $file ? (stat "$spool/$file")[1] : -1;

print $s substr($body, $half);
my $head = '';
while (<$s>) { $head .= $_; last if /^\r?$/ }
close $s;
like($head, qr{^HTTP/1\.1 202}, 'patch accepted');

my $data = $t->v2 . "/repositories/link/me/_uploads/$uuid/data";
is((stat $data)[1], $ino, 'the spool file became the upload data');
is(-s $data, length($body), 'whole body in the upload');

# nginx answers before it ends the request and removes the name

my @left;
$deadline = time + 5;
do {
    opendir(my $dh, $spool) or die "$spool: $!";
    @left = grep { !/^\./ } readdir $dh;
    closedir $dh;
    sleep 0.02 if @left;
} while (@left && time < $deadline);
is(scalar @left, 0, 'spool name removed');

# and the blob is right

my $d = sha256_digest($body);
$r = $t->put("/v2/link/me/blobs/uploads/$uuid?digest=$d");
is($r->{status}, 201, 'commit');
$r = $t->get("/v2/link/me/blobs/$d");
ok($r->{content} eq $body, 'blob content');

done_testing();
