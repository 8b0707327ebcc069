#!/usr/bin/perl
# Build small OCI images by hand, push them into a registry with skopeo and
# print the facts the web UI must show as one JSON object on stdout.
#
#   perl t/ui/fixtures.pl --registry 127.0.0.1:PORT --work DIR \
#        [--fillers N] [--referrers-dir DIR]
#
# Pushed:
#   library/busybox:1.36 and :latest  one linux/amd64 image (busybox layer
#                                     + a small layer), full image config
#   demo/multi:v1                     image index, linux/amd64 + linux/arm64
#   library/busybox:sbom              an OCI artifact whose subject is
#                                     library/busybox:1.36
#   filler/repo-NN:t                  N tiny images (catalog paging)
# --referrers-dir writes <hex>.json referrer indexes for a development
# registry that has no referrers API (registry:2); the real module answers
# /v2/<name>/referrers/<digest> itself.
# Core Perl modules only.
use strict;
use warnings;
use Archive::Tar;
use Digest::SHA qw(sha256_hex);
use File::Path qw(make_path);
use Getopt::Long;
use IO::Compress::Gzip qw(gzip $GzipError);
use JSON::PP;

my ($registry, $work, $fillers, $refdir) = ('', '', 3, '');
GetOptions(
    'registry=s'      => \$registry,
    'work=s'          => \$work,
    'fillers=i'       => \$fillers,
    'referrers-dir=s' => \$refdir,
) or die "bad options\n";
die "usage: $0 --registry HOST:PORT --work DIR\n" unless $registry && $work;

my $json  = JSON::PP->new->canonical;
my $MTIME = 1700000000;

sub blob_put {
    my ($layout, $bytes) = @_;
    my $hex = sha256_hex($bytes);
    make_path("$layout/blobs/sha256");
    open my $fh, '>:raw', "$layout/blobs/sha256/$hex" or die "$layout: $!";
    print {$fh} $bytes;
    close $fh or die $!;
    return { digest => "sha256:$hex", size => length $bytes };
}

# A gzipped tar layer from [path, content, mode] triples; returns the
# descriptor and the diff id (digest of the uncompressed tar).
sub layer {
    my ($layout, @files) = @_;
    my $tar = Archive::Tar->new;
    for my $f (@files) {
        my ($path, $data, $mode) = @$f;
        $tar->add_data($path, $data,
            { mode => $mode // 0644, mtime => $MTIME, uid => 0, gid => 0,
              uname => 'root', gname => 'root' });
    }
    my $raw = $tar->write;
    my $gz;
    gzip(\$raw => \$gz, Minimal => 1, Time => $MTIME, Level => 9)
        or die "gzip: $GzipError";
    my $d = blob_put($layout, $gz);
    $d->{mediaType} = 'application/vnd.oci.image.layer.v1.tar+gzip';
    return ($d, 'sha256:' . sha256_hex($raw));
}

sub slurp {
    my ($p) = @_;
    open my $fh, '<:raw', $p or die "$p: $!";
    local $/;
    return scalar <$fh>;
}

sub new_layout {
    my ($dir) = @_;
    make_path("$dir/blobs/sha256");
    open my $fh, '>', "$dir/oci-layout" or die $!;
    print {$fh} '{"imageLayoutVersion":"1.0.0"}';
    close $fh;
    return $dir;
}

sub write_index {
    my ($dir, @descs) = @_;
    open my $fh, '>', "$dir/index.json" or die $!;
    print {$fh} $json->encode({ schemaVersion => 2,
        mediaType => 'application/vnd.oci.image.index.v1+json',
        manifests => \@descs });
    close $fh;
}

# One image: returns manifest descriptor (digest, size, mediaType) and facts.
sub image {
    my ($layout, %o) = @_;
    my @layers;
    my @diffs;
    for my $files (@{ $o{layers} }) {
        my ($d, $diff) = layer($layout, @$files);
        push @layers, $d;
        push @diffs, $diff;
    }
    my $config = {
        created      => $o{created},
        author       => $o{author} // 'Hephaestus test suite',
        architecture => $o{arch},
        os           => 'linux',
        ($o{variant} ? (variant => $o{variant}) : ()),
        config       => {
            User         => 'nobody',
            WorkingDir   => '/srv',
            Entrypoint   => ['/bin/busybox'],
            Cmd          => ['sh', '-c', 'echo hello'],
            Env          => ['PATH=/bin', 'GREETING=hello world'],
            ExposedPorts => { '8080/tcp' => {} },
            Labels       => { 'org.opencontainers.image.title' => $o{title},
                              'com.example.team' => 'forge' },
        },
        rootfs  => { type => 'layers', diff_ids => \@diffs },
        history => [
            { created => $o{created}, created_by => 'ADD busybox /bin/busybox' },
            { created => $o{created}, created_by => 'COPY motd /etc/motd' },
            { created => $o{created}, created_by => 'CMD ["sh" "-c" "echo hello"]',
              empty_layer => JSON::PP::true },
        ],
    };
    my $cfg = blob_put($layout, $json->encode($config));
    $cfg->{mediaType} = 'application/vnd.oci.image.config.v1+json';
    my $manifest = { schemaVersion => 2,
        mediaType => 'application/vnd.oci.image.manifest.v1+json',
        config => $cfg, layers => \@layers };
    my $mbytes = $json->encode($manifest);
    my $md = blob_put($layout, $mbytes);
    $md->{mediaType} = $manifest->{mediaType};
    my $size = $cfg->{size};
    $size += $_->{size} for @layers;
    return ($md, {
        digest    => $md->{digest},
        mediaType => $manifest->{mediaType},
        size      => $size,
        platform  => 'linux/' . $o{arch} . ($o{variant} ? "/$o{variant}" : ''),
        created   => $o{created},
        layers    => [ map { { digest => $_->{digest}, size => $_->{size} } } @layers ],
        config    => $cfg->{digest},
    });
}

sub skopeo {
    my ($src, $dst, @extra) = @_;
    my @cmd = ('skopeo', '--insecure-policy', 'copy', '-q', @extra,
        '--dest-tls-verify=false', $src, "docker://$registry/$dst");
    my $out = `@cmd 2>&1`;
    die "skopeo failed ($?): @cmd\n$out" if $?;
}

my $busybox = slurp('/bin/busybox');
my %facts = (repos => {}, referrers => {});

# library/busybox: one image, two tags, plus an artifact referring to it.
{
    my $L = new_layout("$work/busybox");
    my ($md, $f) = image($L,
        arch => 'amd64', created => '2024-03-01T12:00:00Z',
        title => 'busybox',
        layers => [ [ [ 'bin/busybox', $busybox, 0755 ] ],
                    [ [ 'etc/motd', "Forged by Hephaestus\n" ] ] ]);
    write_index($L, { %$md, annotations =>
        { 'org.opencontainers.image.ref.name' => '1.36' } });
    skopeo("oci:$L:1.36", 'library/busybox:1.36');
    skopeo("oci:$L:1.36", 'library/busybox:latest');

    # Artifact: empty config, one small layer, subject = the image.
    my $A = new_layout("$work/sbom");
    my $empty = blob_put($A, '{}');
    $empty->{mediaType} = 'application/vnd.oci.empty.v1+json';
    my $doc = blob_put($A, $json->encode({ spdxVersion => 'SPDX-2.3',
        name => 'busybox' }));
    $doc->{mediaType} = 'application/spdx+json';
    my $art = { schemaVersion => 2,
        mediaType    => 'application/vnd.oci.image.manifest.v1+json',
        artifactType => 'application/spdx+json',
        config       => $empty, layers => [ $doc ],
        subject      => { mediaType => $md->{mediaType},
                          digest => $md->{digest}, size => $md->{size} },
        annotations  => { 'org.opencontainers.image.created' =>
                          '2024-03-02T08:00:00Z' } };
    # skopeo copies the subject image blobs too when it reads the layout
    # only for the named tag, so the artifact gets its own layout.
    my $ad = blob_put($A, $json->encode($art));
    $ad->{mediaType} = $art->{mediaType};
    write_index($A, { %$ad, annotations =>
        { 'org.opencontainers.image.ref.name' => 'sbom' } });
    skopeo("oci:$A:sbom", 'library/busybox:sbom');

    $facts{repos}{'library/busybox'} = {
        tags => { '1.36' => [ $f ], latest => [ $f ],
                  sbom => [ { digest => $ad->{digest}, artifact => 1,
                              mediaType => $art->{mediaType},
                              artifactType => 'application/spdx+json',
                              size => $empty->{size} + $doc->{size} } ] },
    };
    $facts{referrers}{ $md->{digest} } = [ { digest => $ad->{digest},
        artifactType => 'application/spdx+json' } ];
    if ($refdir) {
        make_path($refdir);
        (my $hex = $md->{digest}) =~ s/^sha256://;
        open my $fh, '>', "$refdir/$hex.json" or die $!;
        print {$fh} $json->encode({ schemaVersion => 2,
            mediaType => 'application/vnd.oci.image.index.v1+json',
            manifests => [ { mediaType => $art->{mediaType},
                digest => $ad->{digest}, size => $ad->{size},
                artifactType => $art->{artifactType},
                annotations => $art->{annotations} } ] });
        close $fh;
    }
}

# demo/multi: an image index with two platforms.
{
    my $L = new_layout("$work/multi");
    my @rows;
    my @descs;
    for my $p ([ 'amd64', '', '2024-05-10T09:30:00Z' ],
               [ 'arm64', 'v8', '2024-05-11T10:45:00Z' ]) {
        my ($arch, $variant, $created) = @$p;
        my ($md, $f) = image($L,
            arch => $arch, variant => $variant, created => $created,
            title => "multi-$arch",
            layers => [ [ [ 'bin/busybox', $busybox, 0755 ] ],
                        [ [ 'etc/arch', ("$arch\n" x ($arch eq 'arm64' ? 500 : 3)) ] ] ]);
        push @descs, { %$md, platform => { os => 'linux', architecture => $arch,
            ($variant ? (variant => $variant) : ()) } };
        push @rows, $f;
    }
    my $index = { schemaVersion => 2,
        mediaType => 'application/vnd.oci.image.index.v1+json',
        manifests => \@descs };
    my $id = blob_put($L, $json->encode($index));
    $id->{mediaType} = $index->{mediaType};
    write_index($L, { %$id, annotations =>
        { 'org.opencontainers.image.ref.name' => 'v1' } });
    skopeo("oci:$L:v1", 'demo/multi:v1', '--all');
    $facts{repos}{'demo/multi'} = { tags => { v1 => \@rows },
        index => { v1 => $id->{digest} } };
}

# filler repositories for catalog paging.
for my $i (1 .. $fillers) {
    my $name = sprintf 'filler/repo-%02d', $i;
    my $L = new_layout("$work/filler-$i");
    my ($md, $f) = image($L,
        arch => 'amd64', created => sprintf('2023-01-%02dT00:00:00Z', 1 + $i % 28),
        title => $name,
        layers => [ [ [ 'etc/filler', "filler $i\n" ] ] ]);
    write_index($L, { %$md, annotations =>
        { 'org.opencontainers.image.ref.name' => 't' } });
    skopeo("oci:$L:t", "$name:t");
    $facts{repos}{$name} = { tags => { t => [ $f ] } };
}

print $json->encode(\%facts), "\n";
