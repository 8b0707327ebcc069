#!/usr/bin/perl

# Tests with containerd's ctr as the client, against a containerd the
# test starts itself (Debian's containerd, pulled in by docker.io) with
# its root, state and sockets in the test folder and no TCP listener:
# pull images pushed by skopeo (OCI, Docker schema 2, a two-platform
# index with --all-platforms, by tag and by digest) and unpack them with
# the native snapshotter; tag and push them to other repositories (blobs
# mounted across repositories); import an OCI archive into an empty
# namespace and push it (blobs uploaded).  Every manifest and blob pushed
# is read back over HTTP and checked against its digest.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Path qw(make_path);
use File::Temp qw(tempdir);
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(sleep time);
use Hephaestus::Test qw(:all);
use Hephaestus::Images qw(OCI_MANIFEST OCI_INDEX D2_MANIFEST D2_LIST);

for my $bin (qw(containerd ctr skopeo)) {
    plan skip_all => "$bin is not installed (Debian packages containerd, "
        . 'skopeo)'
        unless grep { -x "$_/$bin" } split /:/, $ENV{PATH};
}

my $t = Hephaestus::Test->new()->run();
my $img = Hephaestus::Images->new($t->dir . '/images');
my $state = $t->dir . '/skopeo';
my $host = $t->host;
my $ACCEPT = join ', ', OCI_MANIFEST, OCI_INDEX, D2_MANIFEST, D2_LIST;

# containerd's own configuration: everything under the test folder, the
# API on a unix socket only (no debug or metrics listener), no CRI.

my $cd = $t->dir . '/containerd';
our $NS = 'heph';
make_path("$cd/root", "$cd/state", "$cd/opt");

# a unix socket path has at most 107 bytes: under a long TMPDIR the
# sockets go to a short folder of their own

my $sock = "$cd/containerd.sock";
$sock = tempdir('heph-ctr-XXXXXX', DIR => '/tmp', CLEANUP => 1)
    . '/containerd.sock' if length("$sock.ttrpc") > 100;

my $disabled = join ', ', map { "\"$_\"" } qw(io.containerd.grpc.v1.cri
    io.containerd.snapshotter.v1.aufs io.containerd.snapshotter.v1.btrfs
    io.containerd.snapshotter.v1.devmapper io.containerd.snapshotter.v1.zfs
    io.containerd.tracing.processor.v1.otlp io.containerd.internal.v1.tracing);

write_file("$cd/config.toml", <<EOF);
version = 2
root = "$cd/root"
state = "$cd/state"
disabled_plugins = [$disabled]

[grpc]
  address = "$sock"

[ttrpc]
  address = "$sock.ttrpc"

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$cd/opt"
EOF

my $cpid = Hephaestus::Test::spawn([ 'containerd', '--config',
    "$cd/config.toml" ], "$cd/containerd.log");

END {
    if ($cpid) {
        Hephaestus::Test::stop_pid($cpid, 30);
        $cpid = undef;
    }
}

# ctr(args...): runs ctr against our containerd, bounded in time ($TIMEOUT
# seconds); returns (exit status, output).  Commands and (the start of)
# their output are logged to containerd/ctr.log.

our $TIMEOUT = 180;

sub ctr {
    my (@args) = @_;
    my @cmd = ('timeout', '-k', '10', $TIMEOUT, 'ctr', '--address', $sock,
        '--namespace', $NS, @args);
    my $q = join ' ', map { my $a = $_; $a =~ s/'/'\\''/g; "'$a'" } @cmd;
    local $SIG{PIPE} = 'DEFAULT';
    my $out = `$q 2>&1`;
    my $rc = $? >> 8;
    open(my $lf, '>>', "$cd/ctr.log");
    my $shown = length $out > 4000 ? substr($out, 0, 4000) . "...\n" : $out;
    print $lf "+ @cmd\n$shown" . "= $rc\n";
    close $lf;
    return ($rc, $out);
}

sub ctr_ok {
    my ($name, @args) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($rc, $out) = ctr(@args);
    is($rc, 0, $name) or diag($out);
    return $out;
}

# wait (bounded) for containerd to answer on its socket

my $up = 0;
my $end = time + 60;
while (time < $end) {
    if (waitpid($cpid, WNOHANG) == $cpid) {
        $cpid = undef;
        last;
    }
    local $TIMEOUT = 10;
    if (-S $sock && (ctr('version'))[0] == 0) {
        $up = 1;
        last;
    }
    sleep 0.25;
}

ok($up, 'containerd starts') or do {
    diag("containerd log ends with:\n" . `tail -20 '$cd/containerd.log'`);
    $t->kill_server();
    done_testing();
    exit 1;
};

# images(): { ref => { type, digest, platforms } } from "ctr images ls"

sub images {
    my $out = ctr_ok('ctr images ls', 'images', 'ls');
    my %img;
    for my $line (split /\n/, $out) {
        next unless $line =~ /^(\S+)\s+(\S+)\s+(sha256:[0-9a-f]{64})\s+\S+\s+\S+\s+(\S+)\s+\S+\s*$/;
        $img{$1} = { type => $2, digest => $3, platforms => $4 };
    }
    return \%img;
}

sub manifest_of {
    my ($repo, $ref) = @_;
    return $t->get("/v2/$repo/manifests/$ref", headers => { accept => $ACCEPT });
}

# pushed_ok(repo, ref, image): the registry serves the image's manifest
# (same bytes) under ref, and every blob and child manifest it names,
# each hashing to its digest.

sub pushed_ok {
    my ($repo, $ref, $want) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $name = $ref =~ /^sha256:(.{12})/ ? "$repo\@$1" : "$repo:$ref";
    my $r = manifest_of($repo, $ref);
    is($r->{status}, 200, "$name manifest served");
    is(hdr($r, 'docker-content-digest'), $want->{digest},
        "$name digest header");
    is(hdr($r, 'content-type'), $want->{media_type}, "$name content type");
    is(sha256_digest($r->{content}), $want->{digest},
        "$name manifest bytes hash to the digest");
    ok($r->{content} eq $want->{manifest}, "$name manifest bytes kept");

    my ($ok, $n) = (0, 0);
    for my $b (@{ $want->{blobs} }) {
        $n++;
        my $g = $t->get("/v2/$repo/blobs/$b->{digest}");
        if ($g->{status} == 200 && sha256_digest($g->{content}) eq $b->{digest}
            && length($g->{content}) == $b->{size}
            && (hdr($g, 'docker-content-digest') // '') eq $b->{digest})
        {
            $ok++;
        } else {
            diag("GET /v2/$repo/blobs/$b->{digest}: $g->{status}");
        }
    }
    is($ok, $n, "$name all $n blobs served with their digests");

    for my $c (@{ $want->{children} || [] }) {
        pushed_ok($repo, $c->{digest}, $c);
    }
}

# images pushed with skopeo

my $oci = $img->busybox;
my $multi = $img->multilayer;
my $idx = $img->index;
my $src = $img->layout('src', latest => $oci, idx => $idx);
my $d2 = $img->docker_v2s2($oci);
(my $d2dir = $d2->{blobs}[0]{path}) =~ s{/[^/]+$}{};

is(Hephaestus::Images::skopeo($state, 'copy', '--dest-tls-verify=false',
    "oci:$src:latest", "docker://$host/ct/busybox:latest"), 0,
    'skopeo push busybox');
is(Hephaestus::Images::skopeo($state, 'copy', '--all',
    '--dest-tls-verify=false', "oci:$src:idx", "docker://$host/ct/multi:idx"),
    0, 'skopeo push index');
is(Hephaestus::Images::skopeo($state, 'copy', '--dest-tls-verify=false',
    "dir:$d2dir", "docker://$host/ct/busybox:v2s2"), 0,
    'skopeo push docker schema 2');

my $served = hdr(manifest_of('ct/busybox', 'latest'), 'docker-content-digest')
    // 'none';
is($served, $oci->{digest}, 'registry serves the busybox digest');

# pull an OCI image and unpack it

my $out = ctr_ok('ctr pull busybox', 'images', 'pull', '--plain-http',
    '--snapshotter', 'native', "$host/ct/busybox:latest");
like($out, qr/unpacking linux\/amd64 \Q$oci->{digest}\E/,
    'ctr pull unpacks linux/amd64');

my $ls = images();
my $i = $ls->{"$host/ct/busybox:latest"} || {};
is($i->{digest}, $served, 'ctr image digest is the served manifest digest');
is($i->{type}, OCI_MANIFEST, 'ctr image type');
is($i->{platforms}, 'linux/amd64', 'ctr image platform');

$out = ctr_ok('ctr images check', 'images', 'check', '--snapshotter',
    'native', "name==$host/ct/busybox:latest");
like($out, qr/\Q$oci->{digest}\E\s+complete \(2\/2\).*\strue\s*$/m,
    'ctr images check: complete and unpacked');

for my $b (@{ $oci->{blobs} }) {
    my ($rc, $got) = ctr('content', 'get', $b->{digest});
    ok($rc == 0 && $got eq read_file($b->{path}),
        'ctr content ' . substr($b->{digest}, 7, 12) . ' bytes');
}

$out = ctr_ok('ctr snapshot list', 'snapshots', '--snapshotter', 'native',
    'ls');
like($out, qr/^sha256:[0-9a-f]{64}\s+Committed/m, 'layer snapshot committed');

# pull by digest, and a Docker schema 2 image

ctr_ok('ctr pull by digest', 'images', 'pull', '--plain-http',
    '--snapshotter', 'native', "$host/ct/busybox\@$oci->{digest}");
is(images()->{"$host/ct/busybox\@$oci->{digest}"}{digest}, $oci->{digest},
    'ctr image by digest');

$served = hdr(manifest_of('ct/busybox', 'v2s2'), 'docker-content-digest')
    // 'none';
is($served, $d2->{digest}, 'registry serves the v2s2 digest');
ctr_ok('ctr pull docker schema 2', 'images', 'pull', '--plain-http',
    '--snapshotter', 'native', "$host/ct/busybox:v2s2");
$i = images()->{"$host/ct/busybox:v2s2"} || {};
is($i->{digest}, $served, 'ctr v2s2 digest is the served manifest digest');
is($i->{type}, D2_MANIFEST, 'ctr v2s2 type');

# tag and push to another repository: blobs are mounted from ct/busybox

ctr_ok('ctr tag', 'images', 'tag', "$host/ct/busybox:latest",
    "$host/ct/retag:v1");
ctr_ok('ctr push', 'images', 'push', '--plain-http', "$host/ct/retag:v1");
pushed_ok('ct/retag', 'v1', $oci);
is(read_file($t->tag_link('ct/retag', 'v1')), $oci->{digest},
    'pushed tag on disk');

ctr_ok('ctr tag v2s2', 'images', 'tag', "$host/ct/busybox:v2s2",
    "$host/ct/retag:v2s2");
ctr_ok('ctr push v2s2', 'images', 'push', '--plain-http',
    "$host/ct/retag:v2s2");
pushed_ok('ct/retag', 'v2s2', $d2);

# a two-platform index

$served = hdr(manifest_of('ct/multi', 'idx'), 'docker-content-digest')
    // 'none';
is($served, $idx->{digest}, 'registry serves the index digest');
$out = ctr_ok('ctr pull --all-platforms', 'images', 'pull', '--plain-http',
    '--snapshotter', 'native', '--all-platforms', "$host/ct/multi:idx");
like($out, qr/unpacking linux\/arm64 \Q$idx->{digest}\E/,
    'ctr pull --all-platforms unpacks linux/arm64 too');
$i = images()->{"$host/ct/multi:idx"} || {};
is($i->{digest}, $served, 'ctr index digest is the served index digest');
is($i->{type}, OCI_INDEX, 'ctr index type');
is($i->{platforms}, 'linux/amd64,linux/arm64', 'ctr index platforms');

ctr_ok('ctr tag index', 'images', 'tag', "$host/ct/multi:idx",
    "$host/ct/multicopy:v2");
ctr_ok('ctr push index', 'images', 'push', '--plain-http',
    "$host/ct/multicopy:v2");
pushed_ok('ct/multicopy', 'v2', $idx);

# import an OCI archive into an empty namespace and push it: nothing to
# mount from, so every blob is uploaded

my $arch = $t->dir . '/multilayer.tar';
my $mlsrc = $img->layout('ml', v1 => $multi);
is(system('tar', '-C', $mlsrc, '-cf', $arch, '.'), 0, 'OCI archive');
{
    local $NS = 'heph-import';
    ctr_ok('ctr import', 'images', 'import', '--snapshotter', 'native',
        '--base-name', "$host/ct/imported", $arch);
    $i = images()->{"$host/ct/imported:v1"} || {};
    is($i->{digest}, $multi->{digest}, 'imported image digest');
    ctr_ok('ctr push imported', 'images', 'push', '--plain-http',
        "$host/ct/imported:v1");
}
pushed_ok('ct/imported', 'v1', $multi);

# what containerd asked, and what it got

SKIP: {
    skip 'the access log is nginx\'s', 5 unless $t->is_nginx;
    my @log = grep { /"containerd\// } split /\n/,
        read_file($t->dir . '/access.log') // '';
    my @bad = grep {
        !/"[A-Z]+ (\S+) HTTP\/1\.1" (\d+) / || ($2 >= 400
            && !($2 == 404 && /"HEAD /))
    } @log;
    ok(@log > 20, 'containerd talked to the registry');
    ok(!@bad, 'no request from containerd failed (bar HEAD 404s)')
        or diag(join "\n", @bad);
    is(scalar(grep { my $d = $_->{digest}; grep {
        m{"POST /v2/ct/retag/blobs/uploads/\?mount=\Q$d\E&from=ct/busybox HTTP/1\.1" 201 }
    } @log } @{ $oci->{blobs} }), scalar @{ $oci->{blobs} },
        'ctr push mounted each blob from ct/busybox');
    is(scalar(grep { my $h = substr($_->{digest}, 7); grep {
        m{"PUT /v2/ct/imported/blobs/uploads/\S+\?digest=sha256%3A$h HTTP/1\.1" 201 }
    } @log } @{ $multi->{blobs} }), scalar @{ $multi->{blobs} },
        'ctr push uploaded each blob of the imported image');
    ok((grep { m{"PUT /v2/ct/multicopy/manifests/sha256:[0-9a-f]{64} HTTP/1\.1" 201 } } @log) == 2,
        'ctr push put the index children by digest');
}

ok(Hephaestus::Test::stop_pid($cpid, 30), 'containerd stops');
$cpid = undef;

$t->stop();

done_testing();
