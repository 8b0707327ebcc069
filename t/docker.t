#!/usr/bin/perl

# Tests with Debian's dockerd and the docker CLI as the client: pull an
# image pushed by skopeo, tag it, push it to another repository, pull it
# again.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Path qw(make_path);
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(sleep time);
use Hephaestus::Test qw(:all);
use Hephaestus::Images qw(OCI_MANIFEST OCI_INDEX D2_MANIFEST D2_LIST);

for my $bin (qw(dockerd docker skopeo)) {
    plan skip_all => "$bin is not installed"
        unless grep { -x "$_/$bin" } split /:/, $ENV{PATH};
}

my $t = Hephaestus::Test->new()->run();
my $img = Hephaestus::Images->new($t->dir . '/images');
my $state = $t->dir . '/skopeo';

# start dockerd with everything under the test folder

my $dd = $t->dir . '/dockerd';
my $sock = "$dd/docker.sock";
make_path("$dd/data", "$dd/exec", "$dd/config");
my $dpid = Hephaestus::Test::spawn([ 'dockerd', '--iptables=false',
    '--ip6tables=false', '--bridge=none', '--storage-driver=vfs',
    '--data-root', "$dd/data", '--exec-root', "$dd/exec",
    '--host', "unix://$sock", '--pidfile', "$dd/docker.pid" ],
    "$dd/dockerd.log");

END {
    if ($dpid) {
        Hephaestus::Test::stop_pid($dpid, 40);
        $dpid = undef;
    }
}

$ENV{DOCKER_CONFIG} = "$dd/config";
$ENV{HOME} = "$dd/config";

sub docker {
    my (@args) = @_;
    my $q = join ' ', map { my $a = $_; $a =~ s/'/'\\''/g; "'$a'" } @args;
    my $out = `docker -H 'unix://$sock' $q 2>&1`;
    return ($? >> 8, $out);
}

my $up = 0;
my $end = time + 60;
while (time < $end) {
    if (waitpid($dpid, WNOHANG) == $dpid) {
        $dpid = undef;
        last;
    }
    if (-S $sock && (docker('version'))[0] == 0) {
        $up = 1;
        last;
    }
    sleep 0.25;
}

unless ($up) {
    my $why = `tail -5 '$dd/dockerd.log'`;
    diag("dockerd did not start within 60 s; its log ends with:\n$why");
    $t->kill_server();
    Hephaestus::Test::stop_pid($dpid, 20) if $dpid;
    $dpid = undef;
    plan skip_all => 'dockerd cannot start in this sandbox (see above)';
}

my $host = $t->host;
my $oci = $img->busybox;
my $src = $img->layout('src', latest => $oci);

is(Hephaestus::Images::skopeo($state, 'copy', '--dest-tls-verify=false',
    "oci:$src:latest", "docker://$host/dk/busybox:latest"), 0,
    'skopeo push busybox');

# pull

my ($rc, $out) = docker('pull', "$host/dk/busybox:latest");
is($rc, 0, 'docker pull') or diag($out);
like($out, qr/Digest: \Q$oci->{digest}\E/, 'docker pull digest');

($rc, $out) = docker('image', 'inspect', '--format', '{{.Id}}',
    "$host/dk/busybox:latest");
chomp $out;
is($out, $oci->{config_digest}, 'image id is the config digest');

($rc, $out) = docker('image', 'inspect', '--format',
    '{{.Architecture}}/{{.Os}} {{json .Config.Cmd}}',
    "$host/dk/busybox:latest");
chomp $out;
is($out, 'amd64/linux ["/bin/sh"]', 'image platform and command');

# tag and push

($rc, $out) = docker('tag', "$host/dk/busybox:latest", "$host/dk/retag:v1");
is($rc, 0, 'docker tag') or diag($out);

($rc, $out) = docker('push', "$host/dk/retag:v1");
is($rc, 0, 'docker push') or diag($out);
my ($pushed) = $out =~ /v1: digest: (sha256:[0-9a-f]{64}) size: \d+/;
ok(defined $pushed, 'docker push prints a digest') or diag($out);
$pushed //= 'sha256:none';

my $r = $t->get("/v2/dk/retag/manifests/$pushed",
    headers => { accept => join ', ', OCI_MANIFEST, OCI_INDEX, D2_MANIFEST,
        D2_LIST });
is($r->{status}, 200, 'pushed manifest by digest');
is(hdr($r, 'docker-content-digest'), $pushed, 'pushed manifest digest');
is(sha256_digest($r->{content}), $pushed, 'pushed manifest bytes hash');
my $m = json_of($r);
is($m->{config}{digest}, $oci->{config_digest}, 'pushed config digest');
is(read_file($t->tag_link('dk/retag', 'v1')), $pushed, 'pushed tag on disk');
for my $l (@{ $m->{layers} || [] }) {
    is($t->head("/v2/dk/retag/blobs/$l->{digest}")->{status}, 200,
        'pushed layer ' . substr($l->{digest}, 7, 12));
}

# pull again

($rc, $out) = docker('rmi', "$host/dk/busybox:latest", "$host/dk/retag:v1");
is($rc, 0, 'docker rmi') or diag($out);

($rc, $out) = docker('pull', "$host/dk/retag:v1");
is($rc, 0, 'docker pull pushed image') or diag($out);
like($out, qr/Digest: \Q$pushed\E/, 'docker pull pushed digest');
($rc, $out) = docker('image', 'inspect', '--format', '{{.Id}}',
    "$host/dk/retag:v1");
chomp $out;
is($out, $oci->{config_digest}, 'pulled image id');

# stop dockerd

ok(Hephaestus::Test::stop_pid($dpid, 40), 'dockerd stops');
$dpid = undef;

$t->stop();

done_testing();
