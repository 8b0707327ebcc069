package Hephaestus::Images;

# Real, deterministic container images built offline for the tests, from
# Debian's /bin/busybox (package busybox-static): OCI image layouts with
# one or several layers, a two-platform OCI image index, an OCI artifact
# with a subject, and Docker schema 2 copies made by skopeo.
#
# An image is a hash:
#   manifest     the exact manifest bytes
#   media_type   its media type
#   digest, size of the manifest
#   config       config bytes (images only), config_digest
#   blobs        [ { digest, size, media_type, path } ] config and layers
#   children     [ images ] for an index or manifest list
#   layout, tag  the OCI layout folder holding it and its ref name

use strict;
use warnings;

use Digest::SHA qw(sha256_hex);
use File::Path qw(make_path remove_tree);
use JSON::PP;

use Hephaestus::Test qw(write_file read_file);

use constant {
    OCI_MANIFEST => 'application/vnd.oci.image.manifest.v1+json',
    OCI_INDEX    => 'application/vnd.oci.image.index.v1+json',
    OCI_CONFIG   => 'application/vnd.oci.image.config.v1+json',
    OCI_LAYER    => 'application/vnd.oci.image.layer.v1.tar+gzip',
    OCI_EMPTY    => 'application/vnd.oci.empty.v1+json',
    D2_MANIFEST  => 'application/vnd.docker.distribution.manifest.v2+json',
    D2_LIST      => 'application/vnd.docker.distribution.manifest.list.v2+json',
    D2_CONFIG    => 'application/vnd.docker.container.image.v1+json',
    SBOM_TYPE    => 'application/vnd.example.sbom.v1+json',
    BUSYBOX      => '/bin/busybox',
    CREATED      => '2024-01-02T03:04:05Z',
    MTIME        => 1704164645,
};

our @EXPORT_OK = qw(OCI_MANIFEST OCI_INDEX OCI_CONFIG OCI_LAYER OCI_EMPTY
    D2_MANIFEST D2_LIST D2_CONFIG SBOM_TYPE);
use Exporter qw(import);

my $JSON = JSON::PP->new->canonical;


# new(dir): builds go into dir (a test's temporary folder).

sub new {
    my ($class, $dir) = @_;
    make_path($dir);
    die "busybox-static is not installed (" . BUSYBOX . " missing)\n"
        unless -x BUSYBOX;
    return bless { dir => $dir, n => 0 }, $class;
}


sub sha { 'sha256:' . sha256_hex($_[0]) }


sub run_cmd {
    my (@cmd) = @_;
    local $SIG{PIPE} = 'DEFAULT';
    system(@cmd) == 0 or die "@cmd: exit " . ($? >> 8) . "\n";
}


# blob(bytes, media_type): stores bytes as a blob file; a descriptor.

sub blob {
    my ($self, $bytes, $type) = @_;
    my $d = sha($bytes);
    my $path = "$self->{dir}/blobs/" . substr($d, 7);
    write_file($path, $bytes) unless -f $path;
    return { digest => $d, size => length $bytes, media_type => $type,
        path => $path };
}


# layer(name, sub(root)): a gzipped tar of what the sub puts in root;
# returns (descriptor, diff_id).

sub layer {
    my ($self, $name, $fill) = @_;
    my $root = "$self->{dir}/rootfs-$name";
    remove_tree($root);
    make_path($root);
    $fill->($root);

    my $tar = "$self->{dir}/$name.tar";
    run_cmd('tar', '--sort=name', '--format=gnu', '--owner=0', '--group=0',
        '--numeric-owner', "--mtime=\@" . MTIME, '-C', $root,
        '-cf', $tar, '.');
    my $diff = sha(read_file($tar));
    run_cmd('sh', '-c', "gzip -n -9 -c '$tar' > '$tar.gz'");
    my $desc = $self->blob(read_file("$tar.gz"), OCI_LAYER);
    unlink $tar, "$tar.gz";
    remove_tree($root);
    return ($desc, $diff);
}


sub busybox_layer {
    my ($self) = @_;
    return @{ $self->{busybox} } if $self->{busybox};

    my @l = $self->layer('busybox', sub {
        my ($root) = @_;
        make_path("$root/bin", "$root/tmp");
        run_cmd('cp', BUSYBOX, "$root/bin/busybox");
        chmod 0755, "$root/bin/busybox";
        for my $app (qw(sh ls cat echo true sha256sum)) {
            symlink('busybox', "$root/bin/$app") or die "symlink: $!\n";
        }
        chmod 01777, "$root/tmp";
    });

    $self->{busybox} = \@l;
    return @l;
}


sub file_layer {
    my ($self, $i) = @_;
    return $self->layer("files$i", sub {
        my ($root) = @_;
        make_path("$root/data/$i");
        for my $f (1 .. 3) {
            write_file("$root/data/$i/file$f.txt",
                join('', map { "layer $i file $f line $_\n" } 1 .. 200 * $f));
        }
    });
}


# image(%opt): an OCI image; opt arch (amd64), layers (list of
# [descriptor, diff_id]), cmd.

sub image {
    my ($self, %opt) = @_;
    my $arch = $opt{arch} || 'amd64';
    my @layers = @{ $opt{layers} || [ [ $self->busybox_layer ] ] };

    my $config = $JSON->encode({
        architecture => $arch,
        os => 'linux',
        created => CREATED,
        config => {
            Env => [ 'PATH=/bin' ],
            Cmd => $opt{cmd} || [ '/bin/sh' ],
            Labels => { 'org.example.test' => $opt{label} || 'hephaestus' },
        },
        rootfs => { type => 'layers', diff_ids => [ map { $_->[1] } @layers ] },
        history => [ map { {
            created => CREATED,
            created_by => "hephaestus test layer $_",
        } } 1 .. @layers ],
    });
    my $cfg = $self->blob($config, OCI_CONFIG);

    my $manifest = $JSON->encode({
        schemaVersion => 2,
        mediaType => OCI_MANIFEST,
        config => desc($cfg),
        layers => [ map { desc($_->[0]) } @layers ],
        annotations => { 'org.opencontainers.image.created' => CREATED },
    });

    return $self->finish({
        manifest => $manifest,
        media_type => OCI_MANIFEST,
        config => $config,
        config_digest => $cfg->{digest},
        blobs => [ $cfg, map { $_->[0] } @layers ],
        platform => { architecture => $arch, os => 'linux' },
    });
}


sub desc {
    my ($b) = @_;
    return { mediaType => $b->{media_type}, digest => $b->{digest},
        size => $b->{size} };
}


sub finish {
    my ($self, $img) = @_;
    $img->{digest} = sha($img->{manifest});
    $img->{size} = length $img->{manifest};
    $self->blob($img->{manifest}, $img->{media_type});
    return $img;
}


sub busybox {
    my ($self) = @_;
    return $self->image;
}


sub multilayer {
    my ($self) = @_;
    return $self->image(label => 'multilayer',
        layers => [ (map { [ $self->file_layer($_) ] } 1 .. 3),
            [ $self->busybox_layer ] ]);
}


# index(): linux/amd64 and linux/arm64 (the arm64 one reuses busybox and
# is never run).

sub index {
    my ($self) = @_;
    my @children = ($self->image(arch => 'amd64', label => 'index'),
        $self->image(arch => 'arm64', label => 'index'));

    my $manifest = $JSON->encode({
        schemaVersion => 2,
        mediaType => OCI_INDEX,
        manifests => [ map { {
            mediaType => OCI_MANIFEST, digest => $_->{digest},
            size => $_->{size}, platform => $_->{platform},
        } } @children ],
    });

    return $self->finish({
        manifest => $manifest,
        media_type => OCI_INDEX,
        blobs => [],
        children => \@children,
    });
}


# artifact(subject_image, text, type): an SBOM-like artifact whose subject is
# the image's manifest.

sub artifact {
    my ($self, $subject, $text, $type) = @_;
    $type ||= SBOM_TYPE;
    my $empty = $self->blob('{}', OCI_EMPTY);
    my $sbom = $self->blob($JSON->encode({ sbom => $text || 'busybox',
        subject => $subject->{digest} }), $type);

    my $manifest = $JSON->encode({
        schemaVersion => 2,
        mediaType => OCI_MANIFEST,
        artifactType => $type,
        config => desc($empty),
        layers => [ desc($sbom) ],
        subject => { mediaType => $subject->{media_type},
            digest => $subject->{digest}, size => $subject->{size} },
        annotations => { 'org.opencontainers.image.created' => CREATED },
    });

    return $self->finish({
        manifest => $manifest,
        media_type => OCI_MANIFEST,
        artifact_type => $type,
        blobs => [ $empty, $sbom ],
    });
}


# layout(name, tag => image, ...): an OCI image layout folder holding the
# images under those ref names; returns its path.

sub layout {
    my ($self, $name, @pairs) = @_;
    my $dir = "$self->{dir}/layout-$name";
    remove_tree($dir);
    make_path("$dir/blobs/sha256");
    write_file("$dir/oci-layout", '{"imageLayoutVersion":"1.0.0"}');
    my @entries;

    while (my ($tag, $img) = splice @pairs, 0, 2) {
        $self->copy_into($dir, $img);
        $img->{layout} = $dir;
        $img->{tag} = $tag;
        push @entries, { mediaType => $img->{media_type},
            digest => $img->{digest}, size => $img->{size},
            annotations => { 'org.opencontainers.image.ref.name' => $tag } };
    }

    write_file("$dir/index.json", $JSON->encode({
        schemaVersion => 2, mediaType => OCI_INDEX, manifests => \@entries }));
    return $dir;
}


sub copy_into {
    my ($self, $dir, $img) = @_;
    for my $b (@{ $img->{blobs} }, { digest => $img->{digest},
        path => "$self->{dir}/blobs/" . substr($img->{digest}, 7) })
    {
        my $dst = "$dir/blobs/sha256/" . substr($b->{digest}, 7);
        next if -f $dst;
        link($b->{path}, $dst) or run_cmd('cp', $b->{path}, $dst);
    }
    $self->copy_into($dir, $_) for @{ $img->{children} || [] };
}


# docker_v2s2(image): the image converted by skopeo (--format v2s2)
# into a dir: layout; the result as an image hash.

sub docker_v2s2 {
    my ($self, $img) = @_;
    my $name = 'v2s2-' . ++$self->{n};
    my $layout = $self->layout("src-$name", latest => $img);
    my $out = "$self->{dir}/$name";
    remove_tree($out);

    skopeo($self->{dir}, 'copy', '--quiet', '--format', 'v2s2',
        "oci:$layout:latest", "dir:$out") == 0
        or die "skopeo copy --format v2s2 failed\n";

    my $manifest = read_file("$out/manifest.json");
    my $m = JSON::PP->new->decode($manifest);
    my @blobs;

    for my $d ($m->{config}, @{ $m->{layers} }) {
        my $path = "$out/" . substr($d->{digest}, 7);
        push @blobs, { digest => $d->{digest}, size => $d->{size},
            media_type => $d->{mediaType}, path => $path };
    }

    return $self->finish({
        manifest => $manifest,
        media_type => $m->{mediaType},
        config => read_file($blobs[0]{path}),
        config_digest => $m->{config}{digest},
        blobs => \@blobs,
        platform => $img->{platform},
    });
}


# docker_list(images): a Docker manifest list over Docker schema 2 images.

sub docker_list {
    my ($self, @children) = @_;
    my $manifest = $JSON->encode({
        schemaVersion => 2,
        mediaType => D2_LIST,
        manifests => [ map { {
            mediaType => D2_MANIFEST, digest => $_->{digest},
            size => $_->{size}, platform => $_->{platform},
        } } @children ],
    });
    return $self->finish({ manifest => $manifest, media_type => D2_LIST,
        blobs => [], children => \@children });
}


# skopeo(state_dir, args...): runs skopeo with its state kept in
# state_dir; returns the exit status (0 = ok).  Output goes to
# state_dir/skopeo.log; with capture => \$out as first arg pair, stdout is
# returned there.

sub skopeo {
    my ($state, @args) = @_;
    my $capture;
    if (@args && ref $args[0] eq 'SCALAR') {
        $capture = shift @args;
    }

    make_path("$state/skopeo-tmp");
    write_file("$state/auth.json", '{}') unless -f "$state/auth.json";
    local $ENV{TMPDIR} = "$state/skopeo-tmp";
    local $ENV{REGISTRY_AUTH_FILE} = "$state/auth.json";
    local $ENV{XDG_RUNTIME_DIR} = "$state/skopeo-tmp";
    local $ENV{HOME} = "$state/skopeo-tmp";

    local $SIG{PIPE} = 'DEFAULT';
    my $log = "$state/skopeo.log";
    my @cmd = ('skopeo', '--insecure-policy', '--registries-conf',
        '/dev/null', @args);
    open(my $lf, '>>', $log);
    print $lf "+ @cmd\n";
    close $lf;

    my $quoted = join ' ', map { my $a = $_; $a =~ s/'/'\\''/g; "'$a'" } @cmd;
    if ($capture) {
        $$capture = `$quoted 2>>'$log'`;
    } else {
        system("$quoted >>'$log' 2>&1");
    }
    return $? >> 8;
}


1;
