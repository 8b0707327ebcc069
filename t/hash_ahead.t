#!/usr/bin/perl

# Blob bodies are hashed in the thread pool while they arrive (and, with
# registry_sync on, handed to the disk): the blob must come out right
# whatever the order in which the hashing and the body's end meet, and a
# client that leaves mid-body must leave nothing behind.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::SHA;
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(sleep time);
use Hephaestus::Test qw(:all);

plan skip_all => 'hashing ahead is the module\'s'
    if ($ENV{TEST_TARGET} || 'nginx') ne 'nginx';

my $t = Hephaestus::Test->new(
    workers => 2,
    main => 'thread_pool small threads=1;',
    http => 'error_log %%TESTDIR%%/debug.log debug;',
    extra_location => "            registry_thread_pool small;\n",
    servers => <<'EOF')->run();
    server {
        listen 127.0.0.1:%%PORT2%%;

        # for the error page too: nginx checks the size again there
        client_max_body_size 3m;

        location /v2/ {
            registry on;
            registry_root %%DATA%%;
            registry_thread_pool small;
            error_page 400 413 500 /oops;
        }
        location = /oops {
            return 200 "oops\n";
        }
    }
EOF
my $spool = $t->dir . '/client_body_temp';
my $MiB = 1024 * 1024;

# body(n, seed): n MiB that differ per MiB and per seed

sub body {
    my ($n, $seed) = @_;
    return join '', map {
        my $k = $_;
        pack('N', $seed * 1000 + $k) x ($MiB / 4)
    } 1 .. $n;
}

sub debug_count {
    my ($re) = @_;
    open(my $fh, '<', $t->dir . '/debug.log') or return 0;
    my $n = grep { /$re/ } <$fh>;
    close $fh;
    return $n;
}

# raw(method, path, body, cut): sends the request over its own socket; cut
# (bytes) closes it after that much of the body.  Returns the status.

sub raw_send {
    my ($method, $path, $body, $cut) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $t->port, Proto => 'tcp') or die "connect: $!";
    print $s "$method $path HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        . "Content-Type: application/octet-stream\r\n"
        . 'Content-Length: ' . length($body) . "\r\nConnection: close\r\n\r\n";
    my $len = defined $cut ? $cut : length $body;
    for (my $off = 0; $off < $len; $off += $MiB) {
        my $n = $len - $off < $MiB ? $len - $off : $MiB;
        print $s substr($body, $off, $n);
    }
    if (defined $cut) {
        sleep 0.2;
        close $s;
        return 0;
    }
    my $line = <$s> // '';
    close $s;
    my ($status) = $line =~ m{^HTTP/1\.1 (\d{3})};
    return $status // 0;
}

sub start_upload {
    my ($repo) = @_;
    my $r = $t->post("/v2/$repo/blobs/uploads/");
    is($r->{status}, 202, "start upload in $repo");
    return hdr($r, 'location');
}

# monolithic PUT and PATCH bodies, hashed ahead

my $hashed = debug_count(qr/registry hashed ahead to \d+: 0/);
for my $case ([ 'put', 40 ], [ 'patch', 40 ], [ 'post', 24 ]) {
    my ($how, $mib) = @$case;
    my $body = body($mib, length $how);
    my $d = sha256_digest($body);
    my $repo = "ahead/$how";
    my $status;
    if ($how eq 'post') {
        $status = raw_send('POST', "/v2/$repo/blobs/uploads/?digest=$d",
            $body);
    } elsif ($how eq 'put') {
        my $loc = start_upload($repo);
        $status = raw_send('PUT', add_query($loc, "digest=$d"), $body);
    } else {
        my $loc = start_upload($repo);
        is(raw_send('PATCH', $loc, $body), 202, "$how: body accepted");
        $status = $t->put(add_query($loc, "digest=$d"))->{status};
    }
    is($status, 201, "$how: $mib MiB blob committed");
    my $r = $t->get("/v2/$repo/blobs/$d");
    ok($r->{status} == 200 && $r->{content} eq $body, "$how: blob content");
}
cmp_ok(debug_count(qr/registry hashed ahead to \d+: 0/), '>', $hashed + 3,
    'bodies were hashed while they arrived');

# many at once through one thread: bodies end while their hashing runs

my @kids;
for my $k (1 .. 6) {
    my $pid = fork();
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        my $body = body(17, 100 + $k);
        my $d = sha256_digest($body);
        my $r = HTTP::Tiny->new->post($t->base
            . "/v2/ahead/many$k/blobs/uploads/?digest=$d",
            { content => $body });
        exit($r->{status} == 201 ? 0 : 1);
    }
    push @kids, $pid;
}
my $bad = 0;
for (@kids) { waitpid($_, 0); $bad++ if $? }
is($bad, 0, 'six 17 MiB pushes at once through one hashing thread');
for my $k (1 .. 6) {
    my $body = body(17, 100 + $k);
    my $d = sha256_digest($body);
    my $r = $t->get("/v2/ahead/many$k/blobs/$d");
    ok($r->{status} == 200 && $r->{content} eq $body, "blob $k content");
}
cmp_ok(debug_count(qr/registry body waits for its hashing/), '>', 0,
    'a body ended while its hashing ran, and waited');

# a client that leaves mid-body

my $loc = start_upload('ahead/gone');
my $body = body(40, 7);
for my $cut (9 * $MiB, 20 * $MiB + 5, 33 * $MiB) {
    raw_send('PUT', add_query($loc, 'digest=' . sha256_digest($body)),
        $body, $cut);
}
my $deadline = time + 10;
my @left;
while (time < $deadline) {
    opendir(my $dh, $spool) or die "$spool: $!";
    @left = grep { !/^\./ } readdir $dh;
    closedir $dh;
    last unless @left;
    sleep 0.1;
}
is(scalar @left, 0, 'gone mid-body: no spool file left');
my $r = $t->get($loc);
is($r->{status}, 204, 'gone mid-body: the session is still there');
is(hdr($r, 'range'), '0-0', 'gone mid-body: and still empty');
is(raw_send('PUT', add_query($loc, 'digest=' . sha256_digest($body)), $body),
    201, 'gone mid-body: the same session takes the whole body after');

# a body that fails while its hashing is queued, with an error_page:
# the request goes elsewhere and ends, the task's end must not touch it,
# and the connection must still be closed (found by review: a worker
# crash, and a connection never closed)

sub chunked_fail {
    my ($path, $tail) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $t->port(2), Proto => 'tcp', Timeout => 10)
        or die "connect: $!";
    my $chunk = 'c' x (2 * $MiB);
    print $s "PATCH $path HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        . sprintf('%x', length $chunk) . "\r\n$chunk\r\n" . $tail;
    my ($answer, $closed, $end) = ('', 0, time + 5);
    while (time < $end) {
        my $n = sysread($s, my $buf, 65536);
        if (defined $n && $n == 0) { $closed = 1; last }
        $answer .= $buf if $n;
        sleep 0.01 unless $n;
    }
    close $s;
    return ($answer, $closed);
}

my $workers = join ',', sort @{ $t->worker_pids };
for my $case ([ 'bad chunk', "zz\r\n\r\n", qr{^HTTP/1\.1 400 .*oops}s ],
    [ 'too big', sprintf('%x', 2 * $MiB) . "\r\n" . ('d' x (2 * $MiB))
        . "\r\n0\r\n\r\n", qr{^HTTP/1\.1 413 .*oops}s ]) {
    my ($name, $tail, $re) = @$case;
    for my $try (1 .. 3) {
        my $l = start_upload('ahead/fail');
        my ($answer, $closed) = chunked_fail($l, $tail);
        like($answer, $re, "$name, try $try: the error page answers");
        ok($closed, "$name, try $try: the connection is closed");
    }
}
is(join(',', sort @{ $t->worker_pids }), $workers,
    'no worker died on a failed body');

is_deeply([ $t->store_problems ], [], 'store: every file a whole object');

$t->stop();

done_testing();
