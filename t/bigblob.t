#!/usr/bin/perl

# Tests a blob over 4 GiB: streamed up as POST, one chunked PATCH and
# PUT ?digest=, streamed back with a sha256 check, while the nginx
# workers' memory stays flat.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::SHA;
use HTTP::Tiny;
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(sleep time);
use Hephaestus::Test qw(:all);

my $SIZE = 4 * 1024**3 + 3 * 1024**2 + 12345;
my $BLOCK = 1024**2;
my $RSS_LIMIT = 64 * 1024;    # KiB

my $t = Hephaestus::Test->new();

my $df = `df -Pk '${\ $t->dir}' | tail -1`;
my $free_kib = (split ' ', $df)[3] // 0;
plan skip_all => sprintf('needs 12 GiB free in %s, has %.1f GiB',
    $t->dir, $free_kib / 1024**2) if $free_kib < 12 * 1024**2;

$t->run();

my $ua = HTTP::Tiny->new(timeout => 1800, keep_alive => 0,
    max_redirect => 0);

# block(i): 1 MiB of a pattern that differs per block and per byte

my $base = join '', map { chr(($_ * 131 + 7) % 256) } 0 .. 65535;
$base = $base x ($BLOCK / 65536);

sub block {
    my ($i) = @_;
    my $b = $base;
    substr($b, ($i * 4099) % ($BLOCK - 16), 16, sprintf('%016x', $i));
    return $b;
}

sub rss_kib {
    my ($pid) = @_;
    my $st = read_file("/proc/$pid/status") // return 0;
    return $st =~ /^VmRSS:\s+(\d+) kB/m ? $1 : 0;
}

sub workers {
    return @{ $t->worker_pids } if $t->is_nginx;
    return ($t->pid);
}

# memory sampler: a child that records the highest RSS of each worker

my %base = map { $_ => rss_kib($_) } workers();
ok(scalar keys %base, 'worker processes found');
my $samples = $t->dir . '/rss';
my $sampler = fork;
die "fork: $!\n" unless defined $sampler;

if ($sampler == 0) {
    my %max = %base;
    my $end = time + 3600;
    while (time < $end) {
        for my $pid (keys %max) {
            my $r = rss_kib($pid);
            $max{$pid} = $r if $r > $max{$pid};
        }
        write_file("$samples.tmp", join '', map { "$_ $max{$_}\n" } keys %max);
        rename "$samples.tmp", $samples;
        sleep 0.2;
    }
    POSIX::_exit(0);
}

# upload

my $url = $t->base;
my $r = $ua->post("$url/v2/big/blobs/uploads/",
    { headers => { 'content-length' => 0 } });
is($r->{status}, 202, 'big post');
my $loc = $r->{headers}{location} // '';
$loc = "$url$loc" unless $loc =~ /^http/;

my $sha = Digest::SHA->new(256);
my ($sent, $i) = (0, 0);
my $started = time;

$r = $ua->request('PATCH', $loc, { content => sub {
    return '' if $sent >= $SIZE;
    my $b = block($i++);
    $b = substr($b, 0, $SIZE - $sent) if $sent + length $b > $SIZE;
    $sent += length $b;
    $sha->add($b);
    return $b;
} });

is($r->{status}, 202, 'big chunked patch') or diag($r->{content});
is($sent, $SIZE, 'big body sent');
is($r->{headers}{range}, '0-' . ($SIZE - 1), 'big patch range');
$loc = $r->{headers}{location} // $loc;
$loc = "$url$loc" unless $loc =~ /^http/;

my $digest = 'sha256:' . $sha->hexdigest;
$r = $ua->put(add_query($loc, "digest=$digest"),
    { headers => { 'content-length' => 0 } });
is($r->{status}, 201, 'big put');
is($r->{headers}{'docker-content-digest'}, $digest, 'big put digest');
diag(sprintf 'upload took %.0f s', time - $started);

kill 'KILL', $sampler;
waitpid($sampler, 0);

my %max = map { split ' ' } split /\n/, read_file($samples) // '';
my $growth = 0;
for my $pid (keys %base) {
    my $g = ($max{$pid} // 0) - $base{$pid};
    $growth = $g if $g > $growth;
}
ok(scalar keys %max, 'memory sampled');
cmp_ok($growth, '<', $RSS_LIMIT, 'worker rss growth under 64 MiB')
    or diag("growth $growth KiB");
diag("largest worker rss growth $growth KiB");

# on disk

is(-s $t->blob_data($digest), $SIZE, 'big blob size on disk');
is(read_file($t->layer_link('big', $digest)), $digest, 'big blob link');
ok(!glob($t->upload_dir('big') . '/*'), 'no session left');
ok(!glob($t->dir . '/client_body_temp/*'), 'no body temp file left')
    if $t->is_nginx;

# download

$r = $ua->head("$url/v2/big/blobs/$digest");
is($r->{headers}{'content-length'}, $SIZE, 'big head length');

my $back = Digest::SHA->new(256);
my $got = 0;
$r = $ua->get("$url/v2/big/blobs/$digest", { data_callback => sub {
    $back->add($_[0]);
    $got += length $_[0];
} });
is($r->{status}, 200, 'big get');
is($got, $SIZE, 'big get size');
is('sha256:' . $back->hexdigest, $digest, 'big get sha256');

$r = $ua->get("$url/v2/big/blobs/$digest",
    { headers => { range => 'bytes=' . 4 * 1024**3 . '-'
        . (4 * 1024**3 + 15) } });
is($r->{status}, 206, 'range past 4 GiB');
is($r->{content}, substr(block(4096), 0, 16), 'range past 4 GiB bytes');

$r = $ua->request('DELETE', "$url/v2/big/blobs/$digest");
is($r->{status}, 202, 'big delete');
unlink $t->blob_data($digest);

$t->stop();

done_testing();
