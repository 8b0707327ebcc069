#!/usr/bin/perl

# Tests for registry_upload_purge: upload sessions left idle are removed
# by one worker's timer; fresh sessions and sessions in use stay, and so
# does everything else.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Fcntl qw(:flock);
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(sleep time);
use Hephaestus::Test qw(:all);

plan skip_all => 'the purge is the module\'s (TEST_TARGET)'
    if ($ENV{TEST_TARGET} || 'nginx') ne 'nginx';

# sessions idle for over an hour go, looked for every second

my $t = Hephaestus::Test->new(workers => 2,
    extra_location => "registry_upload_purge 1h 1s;\n")->run();

my $OLD = time - 2 * 60 * 60;


# start(repo, body): a session, with a first chunk; its location and id.

sub start {
    my ($repo, $body) = @_;
    my ($r, $loc) = $t->upload_start($repo);
    is($r->{status}, 202, "start a session in $repo");
    $loc //= '';

    if (defined $body) {
        $r = $t->patch($loc, body => $body);
        is($r->{status}, 202, "first chunk in $repo");
        $loc = hdr($r, 'location') || $loc;
    }

    my ($uuid) = $loc =~ m{/uploads/([0-9a-f-]+)};
    return ($loc, $uuid // 'none');
}


# backdate(repo, uuid): the session's files as last written two hours ago.

sub backdate {
    my ($repo, $uuid) = @_;
    my $dir = $t->upload_dir($repo, $uuid);
    my @files = map { "$dir/$_" } qw(data startedat heph-state);
    is(utime($OLD, $OLD, @files), 3, "backdate session in $repo");
}


# wait_gone(loc, secs): GET the session until it is unknown (bounded).

sub wait_gone {
    my ($loc, $secs) = @_;
    my $end = time + $secs;
    my $r;

    while (time < $end) {
        $r = $t->get($loc);
        last if $r->{status} == 404;
        sleep 0.2;
    }

    return $r;
}


sub wait_no_file {
    my ($path, $secs) = @_;
    my $end = time + $secs;
    sleep 0.1 while -e $path && time < $end;
    return !-e $path;
}


sub entries {
    my ($dir) = @_;
    opendir(my $dh, $dir) or return ('no folder');
    my @e = grep { $_ ne '.' && $_ ne '..' } readdir $dh;
    closedir $dh;
    return sort @e;
}


# what must stay: a blob pushed, an idle session's neighbours

my $kept = $t->push_blob('purge/me', 'a kept blob');

my ($idle_loc, $idle) = start('purge/me', 'stale');
my ($busy_loc, $busy) = start('purge/me', 'busy');
my ($fresh_loc, $fresh) = start('purge', 'fresh ');

my $before = $t->snapshot(ignore_uploads => 1);

# a session in use: the lock an append or a commit holds

open(my $lock, '<', $t->upload_dir('purge/me', $busy))
    or die "open session folder: $!\n";
ok(flock($lock, LOCK_EX | LOCK_NB), 'lock the busy session');

backdate('purge/me', $idle);
backdate('purge/me', $busy);

# the idle session goes

my $r = wait_gone($idle_loc, 10);
oci_error_is($r, 404, 'BLOB_UPLOAD_UNKNOWN', 'idle session unknown');
oci_error_is($t->patch($idle_loc, body => 'more'), 404,
    'BLOB_UPLOAD_UNKNOWN', 'idle session takes no chunk');
oci_error_is($t->put(add_query($idle_loc,
    'digest=' . sha256_digest('stale'))), 404, 'BLOB_UPLOAD_UNKNOWN',
    'idle session cannot be committed');
ok(wait_no_file($t->upload_dir('purge/me', $idle), 5),
    'idle session folder removed');

# the busy one stays while it is held

sleep 2.5;

$r = $t->get($busy_loc);
is($r->{status}, 204, 'busy session kept');
is(hdr($r, 'range'), '0-3', 'busy session range');
ok(-e $t->upload_dir('purge/me', $busy) . '/data', 'busy session on disk');

close $lock;

$r = wait_gone($busy_loc, 10);
oci_error_is($r, 404, 'BLOB_UPLOAD_UNKNOWN', 'released session purged');
ok(wait_no_file($t->upload_dir('purge/me', $busy), 5),
    'released session folder removed');
is_deeply([ entries($t->upload_dir('purge/me')) ], [],
    'nothing hidden left in _uploads');

# nothing else was touched

$t->snapshot_is($before, 'only sessions removed', ignore_uploads => 1);
is(read_file($t->blob_data($kept)), 'a kept blob', 'kept blob');
is($t->head("/v2/purge/me/blobs/$kept")->{status}, 200,
    'kept blob served');

# the fresh session still works

$r = $t->get($fresh_loc);
is($r->{status}, 204, 'fresh session kept');
is(hdr($r, 'range'), '0-5', 'fresh session range');

$r = $t->patch($fresh_loc, body => 'session');
is($r->{status}, 202, 'fresh session takes a chunk');
$fresh_loc = hdr($r, 'location') || $fresh_loc;

my $digest = sha256_digest('fresh session');
$r = $t->put(add_query($fresh_loc, "digest=$digest"));
is($r->{status}, 201, 'fresh session committed');
is(read_file($t->blob_data($digest)), 'fresh session', 'fresh blob on disk');

is_deeply([ $t->store_problems ], [], 'store: every file a whole object');

# one worker purges, and says so

my @lines = $t->log_lines(qr/upload sessions idle for over 3600 s/);
ok(@lines >= 2, 'purges logged') or diag(scalar @lines);
my %pids = map { /\] (\d+)#/ ? ($1 => 1) : () } @lines;
is(scalar keys %pids, 1, 'one worker purges');

$t->stop();

# a graceful shutdown does not wait for the next purge (by default, the
# first comes within the hour)

my $g = Hephaestus::Test->new(workers => 1)->run();
is($g->get('/v2/')->{status}, 200, 'default purge: server answers');
kill 'QUIT', $g->pid;
my ($gone, $end) = (0, time + 10);
until ($gone || time > $end) {
    $gone = waitpid($g->pid, WNOHANG) == $g->pid;
    sleep 0.1 unless $gone;
}
ok($gone, 'graceful shutdown not held by the purge timer');
$g->stop();

# configuration

for my $bad ([ 'registry_upload_purge 0;', qr/invalid age "0"/ ],
    [ 'registry_upload_purge soon;', qr/invalid age "soon"/ ],
    [ 'registry_upload_purge 1h 0;', qr/invalid interval "0"/ ],
    [ 'registry_upload_purge 1h 500ms;', qr/invalid interval "500ms"/ ],
    [ 'registry_upload_purge off 1h;', qr/invalid age "off"/ ],
    [ 'registry_upload_purge 1h 1h 1h;', qr/invalid number of arguments/ ],
    [ "registry_upload_purge 1h;\nregistry_upload_purge 2h;",
        qr/is duplicate/ ])
{
    my $c = Hephaestus::Test->new(extra_location => "$bad->[0]\n");
    like(nginx_t($c), $bad->[1], "refused: $bad->[0]");
}

for my $good ('registry_upload_purge off;', 'registry_upload_purge 7d;',
    'registry_upload_purge 168h 24h;')
{
    my $c = Hephaestus::Test->new(extra_location => "$good\n");
    like(nginx_t($c), qr/test is successful/, "accepted: $good");
}

done_testing();


###########################################################################

# nginx_t(test): the output of nginx -t on the test's configuration.

sub nginx_t {
    my ($c) = @_;
    my $d = $c->dir;
    my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
    write_file("$d/nginx.conf", $c->nginx_conf);
    return `$nginx -t -p $d/ -c $d/nginx.conf -e $d/error.log 2>&1`;
}
