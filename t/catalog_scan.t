#!/usr/bin/perl

# Tests that a user who may see few of many repositories still gets all of
# them from the catalog, while each request reads a bounded number of
# names (found in review: one anonymous request could make a worker read
# every repository on disk).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Path qw(make_path);
use Test::More;
use Hephaestus::Test qw(:all);

my $t = Hephaestus::Test->new(location => <<'EOF');
            registry on;
            registry_root %%DATA%%;
            registry_allow pull public/* anonymous;
EOF

# 10,600 repositories nobody may see sort before the one anyone may

my $repos = $t->v2 . '/repositories';
for my $i (0 .. 10599) {
    make_path(sprintf "%s/hidden/r%05d/_manifests/tags", $repos, $i);
}
make_path("$repos/public/app/_manifests/tags");
system('chown', '-R', '--reference=' . $t->v2, $repos) == 0
    or die "chown: $?";

$t->run();

my (@seen, $requests);
my $url = '/v2/_catalog?n=5';

while (defined $url && ++$requests <= 10) {
    my $r = $t->get($url);
    is($r->{status}, 200, "catalog page $requests status");
    push @seen, @{ json_of($r)->{repositories} };
    my $link = hdr($r, 'link');
    $url = ($link && $link =~ /^<([^>]+)>; rel="next"$/) ? $1 : undef;
}

is_deeply(\@seen, ['public/app'], 'catalog lists only the public one');
ok($requests >= 2, "the scan was cut into several requests ($requests)");
ok($requests <= 3, 'and not into many');

done_testing();
