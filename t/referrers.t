#!/usr/bin/perl

# Tests for the OCI 1.1 referrers endpoint.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Hephaestus::Test qw(:all);
use Hephaestus::Images qw(OCI_MANIFEST OCI_INDEX SBOM_TYPE);

my $t = Hephaestus::Test->new()->run();
my $img = Hephaestus::Images->new($t->dir . '/images');

my $SIG = 'application/vnd.example.signature.v1+json';

my $oci = $img->busybox;
my $sbom = $img->artifact($oci, 'first sbom');
my $sig = $img->artifact($oci, 'a signature', $SIG);
my $sbom2 = $img->artifact($oci, 'second sbom');

$t->push_image('ref/app', 'v1', $oci);
my $r = $t->push_image('ref/app', 'sbom', $sbom);
is(hdr($r, 'oci-subject'), $oci->{digest}, 'sbom subject header');
$t->push_image('ref/app', $sig->{digest}, $sig);
$t->push_image('ref/app', $sbom2->{digest}, $sbom2);

sub descriptor {
    my ($m) = @_;
    return { mediaType => OCI_MANIFEST, digest => $m->{digest},
        size => $m->{size}, artifactType => $m->{artifact_type},
        annotations => { 'org.opencontainers.image.created' =>
            '2024-01-02T03:04:05Z' } };
}

sub by_digest { [ sort { $a->{digest} cmp $b->{digest} } @_ ] }

# list

$r = $t->get("/v2/ref/app/referrers/$oci->{digest}");
is($r->{status}, 200, 'referrers status');
is(hdr($r, 'content-type'), OCI_INDEX, 'referrers content type');
is(hdr($r, 'docker-distribution-api-version'), 'registry/2.0',
    'referrers api version');
ok(!defined hdr($r, 'oci-filters-applied'), 'no filter header unfiltered');
my $j = json_of($r);
is($j->{schemaVersion}, 2, 'referrers schema version');
is($j->{mediaType}, OCI_INDEX, 'referrers media type');
is_deeply($j->{manifests}, by_digest(map { descriptor($_) }
    $sbom, $sig, $sbom2), 'referrers descriptors sorted by digest');

# artifact type filter

$r = $t->get("/v2/ref/app/referrers/$oci->{digest}?artifactType=" .
    SBOM_TYPE =~ s/\+/%2B/r);
is($r->{status}, 200, 'filtered status');
is(hdr($r, 'oci-filters-applied'), 'artifactType', 'filter header');
is_deeply(json_of($r)->{manifests}, by_digest(map { descriptor($_) }
    $sbom, $sbom2), 'filtered descriptors');

$r = $t->get("/v2/ref/app/referrers/$oci->{digest}?artifactType=$SIG"
    =~ s/\+/%2B/r);
is_deeply(json_of($r)->{manifests}, [ descriptor($sig) ],
    'filtered signature');

$r = $t->get("/v2/ref/app/referrers/$oci->{digest}"
    . '?artifactType=application/vnd.example.none');
is($r->{status}, 200, 'filter without match status');
is_deeply(json_of($r)->{manifests}, [], 'filter without match empty');
is(hdr($r, 'oci-filters-applied'), 'artifactType',
    'filter without match header');

# empty lists

for my $case ([ 'unknown digest', 'ref/app', sha256_digest('nothing') ],
    [ 'manifest without referrers', 'ref/app', $sbom->{digest} ],
    [ 'unknown repository', 'ref/none', $oci->{digest} ])
{
    my ($name, $repo, $d) = @$case;
    $r = $t->get("/v2/$repo/referrers/$d");
    is($r->{status}, 200, "$name status");
    is(hdr($r, 'content-type'), OCI_INDEX, "$name content type");
    my $e = json_of($r);
    is_deeply([ $e->{schemaVersion}, $e->{mediaType}, $e->{manifests} ],
        [ 2, OCI_INDEX, [] ], "$name empty index");
}

# scoped to the repository

$t->push_image('ref/other', 'v1', $oci);
$r = $t->get("/v2/ref/other/referrers/$oci->{digest}");
is_deeply(json_of($r)->{manifests}, [], 'referrers of another repository');

# delete

$r = $t->delete("/v2/ref/app/manifests/$sig->{digest}");
is($r->{status}, 202, 'delete referrer');
$r = $t->get("/v2/ref/app/referrers/$oci->{digest}");
is_deeply(json_of($r)->{manifests}, by_digest(map { descriptor($_) }
    $sbom, $sbom2), 'deleted referrer gone from list');

$r = $t->delete('/v2/ref/app/manifests/sbom');
is($r->{status}, 202, 'delete referrer tag');
$r = $t->get("/v2/ref/app/referrers/$oci->{digest}");
is(scalar @{ json_of($r)->{manifests} }, 2, 'tag delete keeps referrer');

# bad digests

oci_error_is($t->get('/v2/ref/app/referrers/sha256:xyz'), 400,
    'DIGEST_INVALID', 'referrers of malformed digest');
oci_error_is($t->get('/v2/ref/app/referrers/latest'), 400,
    'DIGEST_INVALID', 'referrers of a tag');

$t->stop();

done_testing();
