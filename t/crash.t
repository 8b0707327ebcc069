#!/usr/bin/perl

# Tests a worker killed with SIGKILL in the middle of its work: while it
# receives a PATCH body, while the library copies a big PATCH body into
# the session, and during a storm of manifest puts.  nginx's master starts
# a new worker; the session answers its last recorded size and goes on,
# and nothing partial is visible.  (A fresh nginx between a PATCH and its
# PUT is tested in blob_upload.t.)

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::SHA qw(sha256_hex);
use File::Basename qw(dirname);
use HTTP::Tiny;
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(sleep time);
use Hephaestus::Test qw(:all);

my $SIZE = 1024**3;     # the big PATCH body
my $BLOCK = 1024**2;

plan skip_all => 'kills nginx workers (TEST_TARGET)'
    if ($ENV{TEST_TARGET} || 'nginx') ne 'nginx';

# one worker: the one to kill is the master's only child

my $t = Hephaestus::Test->new(workers => 1,
    expect_log => [ qr/worker process \d+ exited on signal 9/ ]);

my $df = `df -Pk '${\ $t->dir}' | tail -1`;
my $free_kib = (split ' ', $df)[3] // 0;
plan skip_all => sprintf('needs 3 GiB free in %s, has %.1f GiB',
    $t->dir, $free_kib / 1024**2) if $free_kib < 3 * 1024**2;

$t->run();

my $UUID = qr/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

sub the_worker {
    my $w = $t->worker_pids;
    return @$w == 1 ? $w->[0] : undef;
}

# kill_worker(pid): SIGKILL, then wait (bounded) for the master's new
# worker; returns the new worker's pid or undef.

sub kill_worker {
    my ($pid) = @_;
    kill 'KILL', $pid;
    my $end = time + 15;
    while (time < $end) {
        my $w = $t->worker_pids;
        if (@$w == 1 && $w->[0] != $pid) {
            return $w->[0]
                if Hephaestus::Test::wait_port($t->port, 5, $t->pid);
        }
        sleep 0.02;
    }
    return undef;
}

sub wait_child {
    my ($pid, $secs) = @_;
    my $end = time + $secs;
    while (time < $end) {
        return $? >> 8 if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
    return -1;
}

sub range_for { my ($n) = @_; $n ? '0-' . ($n - 1) : '0-0' }

sub path_of { my ($loc) = @_; $loc =~ s{^https?://[^/]+}{}; $loc }

# body_temp_open(pid): the worker has a client body temp file open

sub body_temp_open {
    my ($pid) = @_;
    opendir(my $dh, "/proc/$pid/fd") or return 0;
    my @fds = grep { /^\d+$/ } readdir $dh;
    closedir $dh;
    return scalar grep {
        (readlink("/proc/$pid/fd/$_") // '') =~ m{/client_body_temp/}
    } @fds;
}

my $worker = the_worker();
ok($worker, 'one worker');

(undef, my $loc) = $t->upload_start('crash');
my ($uuid) = ($loc // '') =~ m{/uploads/($UUID)$};
ok($uuid, 'session started');
$uuid //= 'none';
my $session_data = $t->upload_dir('crash', $uuid) . '/data';
my $before = $t->snapshot(ignore_uploads => 1);

###########################################################################
# killed while it receives the body

{
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $t->port, Proto => 'tcp', Timeout => 10);
    ok($s, 'connected for a slow patch');
    local $SIG{PIPE} = 'IGNORE';
    print $s join("\r\n", 'PATCH ' . path_of($loc) . ' HTTP/1.1',
        'Host: ' . $t->host, 'Content-Length: ' . 256 * $BLOCK,
        'Connection: close') . "\r\n\r\n";
    print $s 'r' x $BLOCK for 1 .. 4;

    my $end = time + 15;
    sleep 0.02 until body_temp_open($worker) || time > $end;
    ok(body_temp_open($worker), 'the worker spools the body to a temp file');

    my $new = kill_worker($worker);
    ok($new, 'a new worker after the kill while receiving');
    $worker = $new || the_worker();
    close $s;

    my $r = $t->get($loc);
    is($r->{status}, 204, 'status after the kill while receiving');
    is(hdr($r, 'range'), '0-0', 'range after the kill while receiving');
    $t->snapshot_is($before, 'kill while receiving: no blob, no link',
        ignore_uploads => 1);
}

###########################################################################
# killed while the library takes the body into the session: the body is
# streamed up by a child; the worker dies once the session's data file
# grows and before it is whole.  The session holds a first chunk, so the
# body is copied in (a body at offset 0 is linked, hashed ahead while it
# arrives, and renamed in a moment too short to hit).  A kill that came
# too late (the data file already whole) is tried again on a fresh
# session, at most three times.

my ($seen, $hit, $tries) = (0, 0, 0);
my $head = 'h' x 4096;
my $HEAD = length $head;

while (!$hit && $tries < 3) {
    $tries++;

    if ($tries > 1) {
        (undef, $loc) = $t->upload_start('crash');
        ($uuid) = ($loc // '') =~ m{/uploads/($UUID)$};
        $uuid //= 'none';
        $session_data = $t->upload_dir('crash', $uuid) . '/data';
    }

    my $r = $t->patch($loc, headers => { 'content-range' => '0-'
        . ($HEAD - 1) }, body => $head);
    is($r->{status}, 202, "first chunk (try $tries)");
    $loc = hdr($r, 'location') || $loc;

    my $url = $t->base . path_of($loc);
    my $child = fork;
    die "fork: $!\n" unless defined $child;

    if ($child == 0) {
        my $ua = HTTP::Tiny->new(timeout => 600, keep_alive => 0);
        my ($sent, $i) = (0, 0);
        my $block = join '', map { chr(($_ * 7 + 3) % 256) } 0 .. $BLOCK - 1;
        my $res = $ua->request('PATCH', $url, {
            headers => { 'content-length' => $SIZE, 'content-range' =>
                $HEAD . '-' . ($HEAD + $SIZE - 1) },
            content => sub {
                return '' if $sent >= $SIZE;
                $sent += $BLOCK;
                return $block;
            } });
        POSIX::_exit($res->{status} == 599 ? 0 : 1);
    }

    my $end = time + 600;
    $seen = 0;
    while (time < $end) {
        $seen = (-s $session_data // 0) - $HEAD;
        last if $seen > 0;
        last if waitpid($child, WNOHANG) == $child;
        sleep 0.002;
    }

    my $new = kill_worker($worker);
    ok($new, "a new worker after the kill while copying (try $tries)");
    $worker = $new || the_worker();
    $hit = $seen > 0 && $seen < $SIZE;
    diag(sprintf 'try %d: killed with %d of %d bytes copied',
        $tries, $seen, $SIZE);
    my $rc = wait_child($child, 60);
    is($rc, 0, 'the big patch was cut off') if $hit;
}

ok($hit, 'the worker was killed in the middle of the copy');

my $r = $t->get($loc);
is($r->{status}, 204, 'status after the kill while copying');
is(hdr($r, 'range'), range_for($HEAD),
    'the session answers its last recorded size (the first chunk)');
$t->snapshot_is($before, 'kill while copying: no blob, no link',
    ignore_uploads => 1);
diag('session data file left at ' . (-s $session_data // 0) . ' bytes');

my $chunk = join '', map { sprintf "after the crash %05d\n", $_ } 1 .. 1000;
$r = $t->patch($loc, headers => { 'content-range' => "$HEAD-"
    . ($HEAD + length($chunk) - 1) }, body => $chunk);
is($r->{status}, 202, 'patch after the first chunk after the kill');
is(hdr($r, 'range'), range_for($HEAD + length $chunk),
    'range after that patch');
$loc = hdr($r, 'location') || $loc;
is(-s $session_data, $HEAD + length $chunk, 'the leftover bytes are cut');

my $digest = sha256_digest($head . $chunk);
$r = $t->put(add_query($loc, "digest=$digest"));
is($r->{status}, 201, 'commit after the kill');
$r = $t->get("/v2/crash/blobs/$digest");
is($r->{status}, 200, 'get after the kill');
ok($r->{content} eq $head . $chunk, 'get returns exactly the content')
    or diag('got ' . length($r->{content}) . ' bytes');
is(read_file($t->blob_data($digest)), $head . $chunk, 'blob on disk');

# the sessions of the missed tries are given up

if ($tries > 1) {
    for my $l (glob($t->upload_dir('crash') . '/*')) {
        my ($u) = $l =~ m{/($UUID)$} or next;
        $t->delete("/v2/crash/blobs/uploads/$u");
    }
}

###########################################################################
# killed during a storm of manifest puts: 50 puts to distinct tags from a
# child; the worker dies while the 21st is being stored

my $cfg = '{"architecture":"amd64","os":"linux"}';
my $layer = "storm layer\n" x 100;
my $cfg_d = $t->push_blob('storm', $cfg);
my $layer_d = $t->push_blob('storm', $layer);
my $OCI = 'application/vnd.oci.image.manifest.v1+json';

my (%m, %md);
for my $i (1 .. 50) {
    $m{"s$i"} = json_text({
        schemaVersion => 2, mediaType => $OCI,
        config => { mediaType => 'application/vnd.oci.image.config.v1+json',
            digest => $cfg_d, size => length $cfg },
        layers => [ { mediaType =>
            'application/vnd.oci.image.layer.v1.tar+gzip',
            digest => $layer_d, size => length $layer } ],
        annotations => { storm => "manifest $i" },
    });
    $md{"s$i"} = sha256_digest($m{"s$i"});
}

my $results = $t->dir . '/storm.txt';
my $child = fork;
die "fork: $!\n" unless defined $child;

if ($child == 0) {

    # raw requests: HTTP::Tiny would send a cut-off PUT again by itself

    open(my $out, '>', $results) or POSIX::_exit(2);
    $out->autoflush(1);
    for my $i (1 .. 50) {
        my $res = $t->raw([ "PUT /v2/storm/manifests/s$i HTTP/1.1",
            'Host: ' . $t->host, "Content-Type: $OCI",
            'Content-Length: ' . length($m{"s$i"}), 'Connection: close' ],
            $m{"s$i"}, timeout => 30);
        print $out "s$i $res->{status}\n";
    }
    close $out;
    POSIX::_exit(0);
}

my $target = $t->blob_data($md{s21});
my $end = time + 120;
sleep 0.0005 until -e $target || time > $end;
my $at_kill = join ', ', map { "$_->[0] " . (-e $_->[1] ? 'yes' : 'no') }
    [ 'blob', $target ], [ 'revision', $t->revision_link('storm', $md{s21}) ],
    [ 'tag', $t->tag_link('storm', 's21') ];
ok(-e $target, 'the storm reached the 21st manifest');
my $new = kill_worker($worker);
ok($new, 'a new worker after the kill during the storm');
$worker = $new || the_worker();
is(wait_child($child, 120), 0, 'the storm finished');

my %status = map { split ' ' } split /\n/, read_file($results) // '';
is(scalar keys %status, 50, 'fifty answers recorded');
my @failed = sort grep { $status{$_} != 201 } keys %status;
ok(@failed <= 1 && !grep({ $status{$_} != 599 } @failed),
    'only the put in flight failed, cut off')
    or diag(join ', ', map { "$_ $status{$_}" } @failed);
diag("on disk at the kill: $at_kill; cut off: @failed");

my $tags = json_of($t->get('/v2/storm/tags/list'))->{tags} || [];
my %listed = map { $_ => 1 } @$tags;
ok(!grep({ !$listed{$_} } grep { $status{$_} == 201 } keys %status),
    'every tag answered 201 is listed');

for my $tag (sort @$tags) {
    $r = $t->get("/v2/storm/manifests/$tag");
    my $link = read_file($t->tag_link('storm', $tag)) // '';
    ok($r->{status} == 200
        && sha256_digest($r->{content}) eq (hdr($r, 'docker-content-digest')
            // '')
        && $link eq sha256_digest($r->{content})
        && defined $m{$tag} && $r->{content} eq $m{$tag},
        "tag $tag resolves to whole manifest bytes")
        or diag("status $r->{status}, link $link");
}

my @tmp;
my @bad = grep { /^temporary/ ? (push(@tmp, $_), 0) : 1 }
    $t->store_problems;
ok(!@bad, 'after the kills: every blob hashes to its name, every link '
    . 'holds its digest and names a whole blob') or diag(join "\n", @bad);
diag("left by the killed worker: @tmp") if @tmp;

# what the killed put left does not stop it from being done again

for my $tag (@failed) {
    $r = $t->put_manifest('storm', $tag, $m{$tag}, $OCI);
    is($r->{status}, 201, "put $tag again");
    is($t->get("/v2/storm/manifests/$tag")->{content}, $m{$tag},
        "$tag whole after the put again");
}

$tags = json_of($t->get('/v2/storm/tags/list'))->{tags} || [];
is(scalar @$tags, 50, 'all fifty tags at the end');

$t->stop();

done_testing();
