#!/usr/bin/perl

# Tests with skopeo as the client: push OCI and Docker schema 2 images,
# an index with --all and an artifact with a subject; inspect, list-tags,
# pull back byte for byte, delete.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::SHA qw(sha256_hex);
use JSON::PP;
use Test::More;
use Hephaestus::Test qw(:all);
use Hephaestus::Images qw(OCI_MANIFEST OCI_INDEX D2_MANIFEST SBOM_TYPE);

plan skip_all => 'skopeo is not installed (Debian package skopeo)'
    unless grep { -x "$_/skopeo" } split /:/, $ENV{PATH};

my $t = Hephaestus::Test->new()->run();
my $img = Hephaestus::Images->new($t->dir . '/images');
my $state = $t->dir . '/skopeo';
my $reg = 'docker://' . $t->host;

my $oci = $img->busybox;
my $multi = $img->multilayer;
my $idx = $img->index;
my $art = $img->artifact($oci);
my $src = $img->layout('src', latest => $oci, multi => $multi, idx => $idx,
    sbom => $art);
my $ACCEPT = join ', ', OCI_MANIFEST, OCI_INDEX, D2_MANIFEST;

sub skopeo { Hephaestus::Images::skopeo($state, @_) }

sub skopeo_ok {
    my ($name, @args) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $rc = skopeo(@args);
    is($rc, 0, $name) or diag(`tail -5 $state/skopeo.log`);
}

sub manifest_of {
    my ($repo, $ref) = @_;
    return $t->get("/v2/$repo/manifests/$ref",
        headers => { accept => $ACCEPT });
}

# push an OCI image

skopeo_ok('push oci', 'copy', '--dest-tls-verify=false',
    "oci:$src:latest", "$reg/sk/busybox:oci");
my $r = manifest_of('sk/busybox', 'oci');
is($r->{status}, 200, 'pushed oci manifest');
ok($r->{content} eq $oci->{manifest}, 'pushed oci manifest bytes kept');
is(hdr($r, 'docker-content-digest'), $oci->{digest}, 'pushed oci digest');
for my $b (@{ $oci->{blobs} }) {
    is(sha256_digest(read_file($t->blob_data($b->{digest})) // ''),
        $b->{digest}, 'pushed oci blob on disk ' . substr($b->{digest}, 7, 12));
    ok(-f $t->layer_link('sk/busybox', $b->{digest}), 'pushed oci blob linked');
}

# push as docker schema 2

skopeo_ok('push v2s2', 'copy', '--dest-tls-verify=false', '--format', 'v2s2',
    "oci:$src:latest", "$reg/sk/busybox:v2s2");
$r = manifest_of('sk/busybox', 'v2s2');
is($r->{status}, 200, 'pushed v2s2 manifest');
is(hdr($r, 'content-type'), D2_MANIFEST, 'pushed v2s2 content type');
my $m = json_of($r);
is($m->{config}{digest}, $oci->{config_digest}, 'v2s2 config digest');
is_deeply([ map { $_->{digest} } @{ $m->{layers} || [] } ],
    [ map { $_->{digest} } @{ $oci->{blobs} }[1 .. $#{ $oci->{blobs} }] ],
    'v2s2 layer digests');
my $v2s2_digest = hdr($r, 'docker-content-digest');

# push several layers

skopeo_ok('push multilayer', 'copy', '--dest-tls-verify=false',
    "oci:$src:multi", "$reg/sk/multi:v1");
ok(manifest_of('sk/multi', 'v1')->{content} eq $multi->{manifest},
    'multilayer manifest bytes');
is(scalar(grep { -f $t->layer_link('sk/multi', $_->{digest}) }
    @{ $multi->{blobs} }), 5, 'multilayer blobs linked');

# push an index with --all

skopeo_ok('push index', 'copy', '--all', '--dest-tls-verify=false',
    "oci:$src:idx", "$reg/sk/multi:idx");
$r = manifest_of('sk/multi', 'idx');
ok($r->{content} eq $idx->{manifest}, 'index bytes kept');
is(hdr($r, 'content-type'), OCI_INDEX, 'index content type');
for my $c (@{ $idx->{children} }) {
    $r = manifest_of('sk/multi', $c->{digest});
    ok($r->{content} eq $c->{manifest},
        "index child $c->{platform}{architecture} bytes");
}

# push an artifact with a subject

skopeo_ok('push artifact', 'copy', '--dest-tls-verify=false',
    "oci:$src:sbom", "$reg/sk/busybox:sbom");
ok(manifest_of('sk/busybox', 'sbom')->{content} eq $art->{manifest},
    'artifact bytes kept');
$r = $t->get("/v2/sk/busybox/referrers/$oci->{digest}");
is_deeply([ map { [ $_->{digest}, $_->{artifactType} ] }
    @{ json_of($r)->{manifests} || [] } ],
    [ [ $art->{digest}, SBOM_TYPE ] ], 'referrers list the artifact');

# inspect

my $out;
skopeo_ok('inspect', \$out, 'inspect', '--tls-verify=false',
    "$reg/sk/busybox:oci");
my $info = eval { JSON::PP->new->decode($out) } || {};
is($info->{Digest}, $oci->{digest}, 'inspect digest');
is($info->{Architecture}, 'amd64', 'inspect architecture');
is($info->{Os}, 'linux', 'inspect os');
is_deeply($info->{Layers}, [ $oci->{blobs}[1]{digest} ], 'inspect layers');

skopeo_ok('inspect raw', \$out, 'inspect', '--raw', '--tls-verify=false',
    "$reg/sk/busybox:oci");
ok($out eq $oci->{manifest}, 'inspect raw bytes');

skopeo_ok('inspect config', \$out, 'inspect', '--config', '--raw',
    '--tls-verify=false', "$reg/sk/busybox:oci");
ok($out eq $oci->{config}, 'inspect config bytes');

skopeo_ok('inspect arm64 from index', \$out, 'inspect', '--raw',
    '--override-arch', 'arm64', '--tls-verify=false', "$reg/sk/multi:idx");
ok($out eq $idx->{manifest}, 'inspect index raw bytes');

# list tags

skopeo_ok('list tags', \$out, 'list-tags', '--tls-verify=false',
    "$reg/sk/busybox");
$info = eval { JSON::PP->new->decode($out) } || {};
is_deeply([ sort @{ $info->{Tags} || [] } ], [ qw(oci sbom v2s2) ],
    'list tags');

# pull back

my $dst = $t->dir . '/pulled';
for my $case ([ 'oci', 'sk/busybox:oci', $oci, [] ],
    [ 'multilayer', 'sk/multi:v1', $multi, [] ],
    [ 'index', 'sk/multi:idx', $idx, [ '--all' ] ],
    [ 'artifact', 'sk/busybox:sbom', $art, [] ])
{
    my ($name, $ref, $want, $opts) = @$case;
    skopeo_ok("pull $name", 'copy', @$opts, '--src-tls-verify=false',
        "$reg/$ref", "oci:$dst:$name");
    my $index = eval { JSON::PP->new->decode(read_file("$dst/index.json")) };
    my ($entry) = grep { ($_->{annotations}{'org.opencontainers.image.ref.name'}
        // '') eq $name } @{ $index->{manifests} || [] };
    is($entry && $entry->{digest}, $want->{digest}, "pull $name digest");

    my @want = ($want, @{ $want->{children} || [] });
    my $same = 0;
    my $count = 0;
    for my $w (@want) {
        for my $b ({ digest => $w->{digest}, path => undef },
            @{ $w->{blobs} })
        {
            $count++;
            my $got = read_file("$dst/blobs/sha256/" . substr($b->{digest}, 7));
            my $exp = $b->{path} ? read_file($b->{path}) : $w->{manifest};
            $same++ if defined $got && $got eq $exp;
        }
    }
    is($same, $count, "pull $name blobs byte for byte");
}

# mount between repositories

skopeo_ok('copy between repositories', 'copy', '--src-tls-verify=false',
    '--dest-tls-verify=false', "$reg/sk/busybox:oci", "$reg/sk/copy:oci");
ok(manifest_of('sk/copy', 'oci')->{content} eq $oci->{manifest},
    'copied manifest bytes');
SKIP: {
    skip 'the access log is nginx\'s', 1 unless $t->is_nginx;
    my $log = read_file($t->dir . '/access.log') // '';
    like($log, qr{"POST /v2/sk/copy/blobs/uploads/\?[^"]*mount=[^"]*" 201 },
        'skopeo mounted a blob');
}

# delete

skopeo_ok('delete', 'delete', '--tls-verify=false', "$reg/sk/busybox:v2s2");
oci_error_is(manifest_of('sk/busybox', 'v2s2'), 404, 'MANIFEST_UNKNOWN',
    'deleted tag');
oci_error_is(manifest_of('sk/busybox', $v2s2_digest // 'none'), 404,
    'MANIFEST_UNKNOWN', 'deleted digest');
ok(!-e $t->revision_link('sk/busybox', $v2s2_digest // 'sha256:0'),
    'deleted revision link');
is(manifest_of('sk/busybox', 'oci')->{status}, 200, 'other tag kept');

isnt(skopeo('inspect', '--tls-verify=false', "$reg/sk/busybox:v2s2"), 0,
    'inspect deleted tag fails');

$t->stop();

done_testing();
