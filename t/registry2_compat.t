#!/usr/bin/perl

# Tests that the data folder is interchangeable with registry:2 (Debian's
# docker-registry): images pushed through nginx are served by
# docker-registry, and images pushed into docker-registry are served by
# nginx, with the same digests.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Path qw(make_path);
use JSON::PP;
use Test::More;
use Hephaestus::Test qw(:all);
use Hephaestus::Images qw(OCI_MANIFEST OCI_INDEX D2_MANIFEST D2_LIST);

plan skip_all => 'compares nginx with registry:2 (TEST_TARGET=registry2)'
    if ($ENV{TEST_TARGET} // 'nginx') ne 'nginx';
for my $bin (qw(docker-registry skopeo)) {
    plan skip_all => "$bin is not installed"
        unless grep { -x "$_/$bin" } split /:/, $ENV{PATH};
}

my $t = Hephaestus::Test->new(servers => <<'EOF2');
    server {
        listen 127.0.0.1:%%PORT2%%;
        server_name registry2data;

        location /v2/ {
            registry on;
            registry_root %%TESTDIR%%/data2;
            registry_delete on;
            client_max_body_size 0;
        }
    }
EOF2

make_path($t->dir . '/data2');
$t->chown_data($t->dir . '/data2');
$t->run();

my $img = Hephaestus::Images->new($t->dir . '/images');
my $state = $t->dir . '/skopeo';
my $ACCEPT = join ', ', OCI_MANIFEST, OCI_INDEX, D2_MANIFEST, D2_LIST;

my $oci = $img->busybox;
my $multi = $img->multilayer;
my $idx = $img->index;
my $art = $img->artifact($oci);
my $src = $img->layout('src', latest => $oci, multi => $multi, idx => $idx,
    sbom => $art);

sub skopeo_ok {
    my ($name, @args) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is(Hephaestus::Images::skopeo($state, @args), 0, $name)
        or diag(`tail -5 $state/skopeo.log`);
}

sub manifest_at {
    my ($port, $repo, $ref) = @_;
    return $t->ua->get("http://127.0.0.1:$port/v2/$repo/manifests/$ref",
        { headers => { accept => $ACCEPT } });
}

sub same_image {
    my ($name, $port, $repo, $tag, $want) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;

    my $r = manifest_at($port, $repo, $tag);
    is($r->{status}, 200, "$name manifest status");
    ok(($r->{content} // '') eq $want->{manifest}, "$name manifest bytes");
    is($r->{headers}{'docker-content-digest'}, $want->{digest},
        "$name manifest digest");

    my ($ok, $n) = (0, 0);
    for my $w ($want, @{ $want->{children} || [] }) {
        for my $b (@{ $w->{blobs} }) {
            $n++;
            my $g = $t->ua->get("http://127.0.0.1:$port/v2/$repo/blobs/"
                . $b->{digest});
            $ok++ if $g->{status} == 200
                && $g->{content} eq read_file($b->{path});
        }
        next if $w == $want;
        $n++;
        my $c = manifest_at($port, $repo, $w->{digest});
        $ok++ if $c->{status} == 200 && $c->{content} eq $w->{manifest};
    }
    is($ok, $n, "$name blobs and children");
}

# pushed through nginx, served by docker-registry

my $host = $t->host;
skopeo_ok('push oci through nginx', 'copy', '--dest-tls-verify=false',
    "oci:$src:latest", "docker://$host/compat/a:oci");
skopeo_ok('push multilayer through nginx', 'copy', '--dest-tls-verify=false',
    "oci:$src:multi", "docker://$host/compat/a:multi");
skopeo_ok('push index through nginx', 'copy', '--all',
    '--dest-tls-verify=false', "oci:$src:idx", "docker://$host/compat/a:idx");
skopeo_ok('push v2s2 through nginx', 'copy', '--dest-tls-verify=false',
    '--format', 'v2s2', "oci:$src:latest", "docker://$host/compat/a:v2s2");
skopeo_ok('push artifact through nginx', 'copy', '--dest-tls-verify=false',
    "oci:$src:sbom", "docker://$host/compat/a:sbom");
my $v2s2 = manifest_at($t->port, 'compat/a', 'v2s2');

my $p3 = $t->port(3);
ok($t->start_registry2($t->data, $p3), 'docker-registry on nginx data');

same_image('registry2 serves oci', $p3, 'compat/a', 'oci', $oci);
same_image('registry2 serves multilayer', $p3, 'compat/a', 'multi', $multi);
same_image('registry2 serves index', $p3, 'compat/a', 'idx', $idx);
same_image('registry2 serves artifact', $p3, 'compat/a', 'sbom', $art);
my $r = manifest_at($p3, 'compat/a', 'v2s2');
ok($r->{content} eq $v2s2->{content}, 'registry2 serves v2s2 bytes');

$r = $t->ua->get("http://127.0.0.1:$p3/v2/compat/a/tags/list");
is_deeply([ sort @{ json_of($r)->{tags} || [] } ],
    [ qw(idx multi oci sbom v2s2) ], 'registry2 lists the tags');
$r = $t->ua->get("http://127.0.0.1:$p3/v2/_catalog");
is_deeply(json_of($r)->{repositories}, [ 'compat/a' ],
    'registry2 catalog');

my $out;
skopeo_ok('skopeo inspect from registry2', \$out, 'inspect',
    '--tls-verify=false', "docker://127.0.0.1:$p3/compat/a:oci");
is(eval { JSON::PP->new->decode($out)->{Digest} }, $oci->{digest},
    'skopeo inspect digest from registry2');

my $pull = $t->dir . '/from-registry2';
skopeo_ok('skopeo copy from registry2', 'copy', '--all',
    '--src-tls-verify=false', "docker://127.0.0.1:$p3/compat/a:idx",
    "oci:$pull:idx");
my $index = eval { JSON::PP->new->decode(read_file("$pull/index.json")) };
is(eval { $index->{manifests}[0]{digest} }, $idx->{digest},
    'copy from registry2 digest');
is(scalar(grep { -f "$pull/blobs/sha256/" . substr($_->{digest}, 7) }
    map { @{ $_->{blobs} } } @{ $idx->{children} }), 4,
    'copy from registry2 blobs');

# pushed into docker-registry, served by nginx

my $data2 = $t->dir . '/data2';
my $p4 = Hephaestus::Test::free_port();
ok($t->start_registry2($data2, $p4), 'docker-registry on a fresh folder');

skopeo_ok('push oci into registry2', 'copy', '--dest-tls-verify=false',
    "oci:$src:latest", "docker://127.0.0.1:$p4/compat/b:oci");
skopeo_ok('push multilayer into registry2', 'copy',
    '--dest-tls-verify=false', "oci:$src:multi",
    "docker://127.0.0.1:$p4/compat/b:multi");
skopeo_ok('push index into registry2', 'copy', '--all',
    '--dest-tls-verify=false', "oci:$src:idx",
    "docker://127.0.0.1:$p4/compat/b:idx");
skopeo_ok('push artifact into registry2', 'copy', '--dest-tls-verify=false',
    "oci:$src:sbom", "docker://127.0.0.1:$p4/compat/nested/c:sbom");

my $p2 = $t->port(2);
same_image('nginx serves oci', $p2, 'compat/b', 'oci', $oci);
same_image('nginx serves multilayer', $p2, 'compat/b', 'multi', $multi);
same_image('nginx serves index', $p2, 'compat/b', 'idx', $idx);

$r = $t->get('/v2/compat/b/tags/list', port => 2);
is_deeply(json_of($r), { name => 'compat/b', tags => [ qw(idx multi oci) ] },
    'nginx lists registry2 tags');
$r = $t->get('/v2/_catalog', port => 2);
is_deeply(json_of($r), { repositories => [ 'compat/b', 'compat/nested/c' ] },
    'nginx catalog of registry2 data');
$r = $t->get('/v2/compat/b/manifests/oci', port => 2,
    headers => { 'accept' => $ACCEPT });
is(hdr($r, 'content-type'), OCI_MANIFEST, 'nginx media type of registry2 data');

$pull = $t->dir . '/from-nginx';
skopeo_ok('skopeo copy from nginx', 'copy', '--src-tls-verify=false',
    "docker://127.0.0.1:$p2/compat/b:multi", "oci:$pull:multi");
$index = eval { JSON::PP->new->decode(read_file("$pull/index.json")) };
is(eval { $index->{manifests}[0]{digest} }, $multi->{digest},
    'copy from nginx digest');

# nginx writes into registry2's folder, registry2 reads it back

skopeo_ok('push through nginx into registry2 data', 'copy',
    '--dest-tls-verify=false', "oci:$src:latest",
    "docker://127.0.0.1:$p2/compat/b:again");
$r = manifest_at($p4, 'compat/b', 'again');
ok(($r->{content} // '') eq $oci->{manifest}, 'registry2 reads nginx tag');

# deletes on one side are seen by the other

$r = $t->delete("/v2/compat/b/manifests/$multi->{digest}", port => 2);
is($r->{status}, 202, 'nginx deletes a registry2 manifest');
is(manifest_at($p4, 'compat/b', 'multi')->{status}, 404,
    'registry2 no longer serves it');

$t->stop();

done_testing();
