#!/usr/bin/perl

# Tests for tags/list and _catalog: order, paging, Link headers.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time);
use Hephaestus::Test qw(:all);
use Hephaestus::Images qw(OCI_MANIFEST OCI_EMPTY);

my $t = Hephaestus::Test->new()->run();

my $empty = sha256_digest('{}');
my %pushed;

sub tiny {
    my ($repo, $tag) = @_;
    $t->push_blob($repo, '{}') unless $pushed{$repo}++;
    my $m = json_text({ schemaVersion => 2, mediaType => OCI_MANIFEST,
        config => { mediaType => OCI_EMPTY, digest => $empty, size => 2 },
        layers => [], annotations => { 'org.example.repo' => $repo } });
    my $r = $t->put_manifest($repo, $tag, $m, OCI_MANIFEST);
    is($r->{status}, 201, "push $repo:$tag");
}

# follow(url): pages as [ [items], link ] until no Link (at most 50).

sub follow {
    my ($url, $key) = @_;
    my (@items, @links);

    for (1 .. 50) {
        my $r = $t->get($url);
        last unless $r->{status} == 200;
        push @items, @{ json_of($r)->{$key} || [] };
        my $link = hdr($r, 'link');
        last unless defined $link;
        push @links, $link;
        ($url) = $link =~ /^<([^>]+)>; rel="next"$/ or last;
    }

    return (\@items, \@links);
}

my @tags = ('latest', 'b', 'a', 'Z0', 'z_', '1.0', 'v2', 'A', '_u', 'a.b-c');
tiny('tc/app', $_) for @tags;
my @sorted = sort @tags;

# tags

my $r = $t->get('/v2/tc/app/tags/list');
is($r->{status}, 200, 'tags status');
is(hdr($r, 'content-type'), 'application/json; charset=utf-8',
    'tags content type');
is_deeply(json_of($r), { name => 'tc/app', tags => \@sorted },
    'tags sorted bytewise');
ok(!defined hdr($r, 'link'), 'tags no link without n');

$r = $t->get('/v2/tc/app/tags/list?n=3');
is_deeply(json_of($r)->{tags}, [ @sorted[0 .. 2] ], 'tags first page');
is(hdr($r, 'link'), "</v2/tc/app/tags/list?last=$sorted[2]&n=3>; rel=\"next\"",
    'tags link header');

my ($items, $links) = follow('/v2/tc/app/tags/list?n=3', 'tags');
is_deeply($items, \@sorted, 'tags pages cover all');
is(scalar @$links, 3, 'tags pages linked');

$r = $t->get("/v2/tc/app/tags/list?last=$sorted[4]");
is_deeply(json_of($r)->{tags}, [ @sorted[5 .. $#sorted] ], 'tags after last');

$r = $t->get("/v2/tc/app/tags/list?n=2&last=$sorted[7]");
is_deeply(json_of($r)->{tags}, [ @sorted[8, 9] ], 'tags last page');
ok(!defined hdr($r, 'link'), 'tags last page no link');

$r = $t->get('/v2/tc/app/tags/list?n=0');
is($r->{status}, 200, 'tags n=0 status');
is_deeply(json_of($r)->{tags}, [], 'tags n=0 empty');

$r = $t->get('/v2/tc/app/tags/list?n=100000');
is_deeply(json_of($r)->{tags}, \@sorted, 'tags large n clamped');

for my $n ('abc', '-1', '1.5', '') {
    oci_error_is($t->get("/v2/tc/app/tags/list?n=$n"), 400,
        'PAGINATION_NUMBER_INVALID', "tags n='$n'");
}

# unknown repositories

$r = $t->get('/v2/tc/none/tags/list');
oci_error_is($r, 404, 'NAME_UNKNOWN', 'tags of unknown repository');

$t->push_blob('tc/blobonly', 'only a blob');
oci_error_is($t->get('/v2/tc/blobonly/tags/list'), 404, 'NAME_UNKNOWN',
    'tags of repository without manifests');

# nested names

my @repos = ('tc/deep/nested/name/x', 'tc/a-b', 'tc/a.b', 'tc/a_b',
    'tc/a__b', 'tc/a--b', 'a0', 'zz', 'tc/app2', 'tc/ap');
tiny($_, 'v1') for @repos;

$r = $t->get('/v2/tc/deep/nested/name/x/tags/list');
is_deeply(json_of($r), { name => 'tc/deep/nested/name/x', tags => [ 'v1' ] },
    'tags of nested name');

# catalog

my @all = sort(@repos, 'tc/app');

$r = $t->get('/v2/_catalog');
is($r->{status}, 200, 'catalog status');
is(hdr($r, 'content-type'), 'application/json; charset=utf-8',
    'catalog content type');
is_deeply(json_of($r), { repositories => \@all }, 'catalog sorted bytewise');
ok(!defined hdr($r, 'link'), 'catalog no link on last page');

$r = $t->get('/v2/_catalog?n=2');
is_deeply(json_of($r)->{repositories}, [ @all[0, 1] ], 'catalog first page');
(my $enc = $all[1]) =~ s{/}{%2F}g;
is(hdr($r, 'link'), "</v2/_catalog?last=$enc&n=2>; rel=\"next\"",
    'catalog link header');

($items, $links) = follow('/v2/_catalog?n=4', 'repositories');
is_deeply($items, \@all, 'catalog pages cover all');
is(scalar @$links, 2, 'catalog pages linked');

$r = $t->get('/v2/_catalog?last=tc%2Fapp');
is_deeply(json_of($r)->{repositories}, [ grep { $_ gt 'tc/app' } @all ],
    'catalog after encoded last');

$r = $t->get('/v2/_catalog?last=tc/app&n=1');
is_deeply(json_of($r)->{repositories}, [ 'tc/app2' ], 'catalog after last');

$r = $t->get('/v2/_catalog?n=0');
is_deeply(json_of($r), { repositories => [] }, 'catalog n=0');

$r = $t->get('/v2/_catalog?n=5000');
is($r->{status}, 200, 'catalog large n status');
is_deeply(json_of($r)->{repositories}, \@all, 'catalog large n clamped');

for my $n ('abc', '-1', '') {
    oci_error_is($t->get("/v2/_catalog?n=$n"), 400,
        'PAGINATION_NUMBER_INVALID', "catalog n='$n'");
}

# catalog default page size

tiny(sprintf('many/r%03d', $_), 'v1') for 1 .. 105;
$r = $t->get('/v2/_catalog');
is(scalar @{ json_of($r)->{repositories} }, 100, 'catalog default n is 100');
like(hdr($r, 'link') // '',
    qr{^</v2/_catalog\?last=many%2Fr\d{3}&n=100>; rel="next"$},
    'catalog default link');

$t->stop();

done_testing();
