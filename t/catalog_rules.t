#!/usr/bin/perl

# The catalog under access rules, on a large store: the worker's event
# loop never reads the folders, nor waits for a thread that does, so the
# worker answers other requests meanwhile; the filtered pages are the same
# whether the names come from the list in memory or from a thread (found
# in review: the first page after each registry_catalog_cache period read
# 30,000 repositories in the event loop, and GET /v2/ waited 200 ms).
# The identity comes from a request header here, which a real
# configuration must never do (see conf/).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Path qw(make_path);
use HTTP::Tiny;
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);
use Hephaestus::Test qw(:all);

plan skip_all => 'the list in memory is the module\'s'
    if ($ENV{TEST_TARGET} || 'nginx') ne 'nginx';

my $HIDDEN = 30000;

# making 60,000 folders takes a second on tmpfs, ten on a small VM's ext4

$ENV{TMPDIR} //= '/dev/shm' if -d '/dev/shm' && -w _;

my $rules = <<'EOF';
            registry_identity $http_x_user;
            registry_allow pull pub/* anonymous;
            registry_allow pull * user:admin;
EOF

my $t = Hephaestus::Test->new(
    workers => 1,
    main => "error_log %%TESTDIR%%/debug.log debug;\n",
    location => <<"EOF",
            registry on;
            registry_root %%DATA%%;
            registry_catalog_cache 1s;
$rules
EOF
    servers => <<"EOF");
    server {
        listen 127.0.0.1:%%PORT2%%;
        location /v2/ {
            registry on;
            registry_root %%DATA%%;
            registry_catalog_cache 0;
$rules
        }
    }
EOF

# repositories nobody but admin may see sort before the public ones

my $repos = $t->v2 . '/repositories';
make_path("$repos/pub", map { sprintf "$repos/org%02d", $_ } 0 .. 99);
for my $i (1 .. $HIDDEN) {
    my $repo = sprintf "%s/org%02d/r%05d", $repos, $i % 100, $i;
    mkdir $_ or die "mkdir $_: $!\n" for ($repo, "$repo/_manifests");
}
mkdir $_ or die "mkdir $_: $!\n"
    for map { ("$repos/$_", "$repos/$_/_manifests") } qw(pub/a pub/b);
$t->chown_data($repos);

$t->run();

my $debug = $t->dir . '/debug.log';

# pages(port, user, n): every name the user gets by following the Links,
# and the Links followed

sub pages {
    my ($port, $user, $n) = @_;
    my $ua = HTTP::Tiny->new(keep_alive => 1);
    my %h = defined $user ? (headers => { 'x-user' => $user }) : ();
    my ($url, @names, @links) = ("/v2/_catalog?n=$n");

    while (defined $url && @links < 40) {
        my $r = $ua->get($t->base($port) . $url, \%h);
        return undef unless $r->{status} == 200;
        push @names, @{ json_of($r)->{repositories} };
        my $link = hdr($r, 'link');
        $url = ($link && $link =~ /^<([^>]+)>; rel="next"$/) ? $1 : undef;
        push @links, $url if defined $url;
    }

    return { names => \@names, links => \@links };
}

# debug_since(offset): what the debug log gained since

sub debug_since {
    my ($from) = @_;
    open my $fh, '<', $debug or return '';
    seek $fh, $from, 0;
    local $/;
    return <$fh> // '';
}

# pages: from a thread, then from memory, and with no list kept

my $first = pages(1, undef, 5);
my $again = pages(1, undef, 5);
my $nocache = pages(2, undef, 5);

is_deeply($first->{names}, [ 'pub/a', 'pub/b' ], 'anonymous sees pub/*');
ok(@{ $first->{links} } >= 3,
    'over several requests, each reading a bounded number of names');
is_deeply($again, $first, 'the same pages from the list in memory');
is_deeply($nocache, $first, 'the same pages with no list kept');

my $admin = pages(1, 'admin', 1000);
is(scalar @{ $admin->{names} }, $HIDDEN + 2, 'admin sees every one');
is_deeply([ @{ $admin->{names} }[0 .. 2] ],
    [ 'org00/r00100', 'org00/r00200', 'org00/r00300' ], 'in order');
is(scalar @{ $admin->{links} }, 30, 'a Link every 1000');

# the event loop is not held up while the list is read again: GET /v2/
# on the same (single) worker, while a catalog page needs the list read
# again from the folders

sub probe_during_catalog {
    pipe(my $rd, my $wr) or die "pipe: $!\n";
    my $pid = fork() // die "fork: $!\n";

    if ($pid == 0) {
        close $rd;
        my $ua = HTTP::Tiny->new(keep_alive => 1);
        my ($max, $end) = (0, time + 1.2);

        while (time < $end) {
            my $t0 = time;
            my $r = $ua->get($t->base(1) . '/v2/');
            my $d = $r->{status} == 200 ? time - $t0 : 99;
            $max = $d if $d > $max;
            sleep 0.005;
        }

        print $wr "$max\n";
        close $wr;
        POSIX::_exit(0);
    }

    close $wr;
    sleep 0.2;

    my $t0 = time;
    my $r = HTTP::Tiny->new->get($t->base(1) . '/v2/_catalog?n=10');
    my $took = time - $t0;

    my $max = <$rd>;
    waitpid($pid, 0);
    chomp $max;

    return ($r, $took, $max);
}

my ($best, $from, $r, $took, $max, $log) = (99);

for my $try (1 .. 3) {
    sleep 1.2;
    $from = -s $debug;
    ($r, $took, $max) = probe_during_catalog();
    $log = debug_since($from);
    note(sprintf 'try %d: catalog %.0f ms, slowest GET /v2/ meanwhile '
        . '%.1f ms', $try, $took * 1000, $max * 1000);
    $best = $max if $max < $best;
    last if $best < 0.05;
}

cmp_ok($best, '<', 0.05,
    'the worker answers others within 50 ms while the list is read again');
is($r->{status}, 200, 'that catalog page');
is_deeply(json_of($r)->{repositories}, [], 'filtered');
like(hdr($r, 'link'), qr{^</v2/_catalog\?last=org\d\d%2Fr\d{5}&n=10>},
    'with a Link on from the last name read');

# (not like(): the debug log is long)

ok($log =~ /registry catalog in a thread: the list of repositories is out/,
    'the event loop did not read the folders');
ok($log =~ m{registry task posted: "/v2/_catalog"}, 'a thread did');

# once read again, from memory: no thread

$t->get('/v2/_catalog?n=10', headers => { 'x-user' => 'admin' });
$from = -s $debug;
$r = $t->get('/v2/_catalog?n=10', headers => { 'x-user' => 'admin' });
is(scalar @{ json_of($r)->{repositories} }, 10, 'a page from memory');
ok(debug_since($from) !~ /registry task posted/, 'without a thread');

# no list kept: always read in a thread

$from = -s $debug;
$r = HTTP::Tiny->new->get($t->base(2) . '/v2/_catalog?n=10',
    { headers => { 'x-user' => 'admin' } });
is(scalar @{ json_of($r)->{repositories} }, 10,
    'a page where no list is kept');
ok(debug_since($from) =~ m{registry task posted: "/v2/_catalog"},
    'read in a thread');

$t->stop();

done_testing();
