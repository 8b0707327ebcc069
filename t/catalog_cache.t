#!/usr/bin/perl

# The list of repositories each worker keeps for _catalog: a repository
# pushed through any worker or server block shows at once; one made or
# removed behind the module's back shows once the list is
# registry_catalog_cache old, or at once where that is 0.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Path qw(make_path remove_tree);
use HTTP::Tiny;
use Test::More;
use Time::HiRes qw(sleep);
use Hephaestus::Test qw(:all);
use Hephaestus::Images qw(OCI_MANIFEST OCI_EMPTY);

plan skip_all => 'the list in memory is the module\'s'
    if ($ENV{TEST_TARGET} || 'nginx') ne 'nginx';

my $t = Hephaestus::Test->new(
    workers => 2,
    extra_location => "            registry_catalog_cache 60s;\n",
    servers => <<'EOF')->run();
    server {
        listen 127.0.0.1:%%PORT2%%;
        location /v2/ {
            registry on;
            registry_root %%DATA%%;
            registry_catalog_cache 0;
        }
    }
    server {
        listen 127.0.0.1:%%PORT3%%;
        location /v2/ {
            registry on;
            registry_root %%DATA%%;
            registry_catalog_cache 1s;
        }
    }
EOF

my $empty = sha256_digest('{}');
my $repos = $t->data . '/docker/registry/v2/repositories';

sub tiny {
    my ($repo, $port) = @_;
    my $r = $t->post("/v2/$repo/blobs/uploads/?digest=$empty",
        body => '{}', port => $port);
    is($r->{status}, 201, "blob into $repo");
    my $m = json_text({ schemaVersion => 2, mediaType => OCI_MANIFEST,
        config => { mediaType => OCI_EMPTY, digest => $empty, size => 2 },
        layers => [] });
    $r = $t->put('/v2/' . $repo . '/manifests/v1', body => $m, port => $port,
        headers => { 'Content-Type' => OCI_MANIFEST });
    is($r->{status}, 201, "manifest into $repo");
}

# catalog(port): the names one new connection gets, so that both
# workers answer in turn

sub catalog {
    my ($port) = @_;
    my $r = HTTP::Tiny->new(keep_alive => 0)
        ->get($t->base($port) . '/v2/_catalog?n=1000');
    return undef unless $r->{status} == 200;
    return json_of($r)->{repositories};
}

sub has {
    my ($list, $name) = @_;
    return scalar grep { $_ eq $name } @{ $list || [] };
}

# pushed repositories show at once

tiny('base/one', 1);
for (1 .. 6) {
    is_deeply(catalog($_ % 2 ? 1 : 3), [ 'base/one' ],
        "catalog before, try $_");
}

my $missed = 0;
for my $i (1 .. 8) {

    # through the other server block, then the other handle's list

    tiny("fresh/r$i", ($i % 2) ? 3 : 1);
    for (1 .. 4) {
        $missed++ unless has(catalog(1), "fresh/r$i");
        $missed++ unless has(catalog(3), "fresh/r$i");
    }
}
is($missed, 0, 'each pushed repository listed by every worker at once');
is_deeply(catalog(1), [ 'base/one', map { "fresh/r$_" } 1 .. 8 ],
    'catalog in order');

# a repository made by hand

make_path("$repos/by/hand/_manifests");
$t->chown_data("$repos/by");
ok(has(catalog(2), 'by/hand'), 'made by hand: listed where the cache is 0');
ok(!has(catalog(1), 'by/hand'),
    'made by hand: not yet listed where the list may be 60 s old');

sleep 1.2;
ok(has(catalog(3), 'by/hand'), 'made by hand: listed once 1 s old');

remove_tree("$repos/by");
ok(!has(catalog(2), 'by/hand'), 'removed by hand: gone where the cache is 0');
sleep 1.2;
my @seen = grep { has(catalog(3), 'by/hand') } 1 .. 4;
is(scalar @seen, 0, 'removed by hand: gone once the list is 1 s old');

$t->stop();

done_testing();
