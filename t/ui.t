#!/usr/bin/perl

# The web UI (ui/) in a real browser: nginx with the registry module serves
# ui/ at / and the API under /v2/ on one port; skopeo pushes a
# single-platform image with two tags, a two-platform image index and an
# artifact whose subject is the image; t/ui/browser-test.mjs drives Debian's
# chromium through playwright-core and checks what the pages show against
# the facts of what was pushed. Each of its checks becomes an assertion.
#
# Needs: chromium, node, skopeo, busybox-static, and t/ui/node_modules
# (npm ci --prefix t/ui). Missing ones fail the test; they are not skipped.
# Screenshots: UI_TEST_OUT, default t/out/ui.
# TEST_TARGET=registry2 runs the same browser test against Debian's
# docker-registry behind a plain nginx (t/ui/dev-env.sh) instead.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP ();
use Test::More;
use Hephaestus::Test qw(:all);

my $TOP = $Hephaestus::Test::TOP;
my $target = $ENV{TEST_TARGET} || 'nginx';
my $chromium = $ENV{UI_TEST_CHROMIUM} || '/usr/bin/chromium';
my $out = $ENV{UI_TEST_OUT} || "$TOP/t/out/ui";

# prerequisites: a missing one is a failure with the way to install it

my @missing;
push @missing, "$chromium (apt-get install chromium)" unless -x $chromium;
push @missing, 'node (apt-get install nodejs npm)' unless have('node');
push @missing, 'skopeo (apt-get install skopeo)' unless have('skopeo');
push @missing, '/bin/busybox (apt-get install busybox-static)'
    unless -x '/bin/busybox';
push @missing, 't/ui/node_modules/playwright-core (npm ci --prefix t/ui)'
    unless -f "$TOP/t/ui/node_modules/playwright-core/package.json";

if (@missing) {
    fail('browser test prerequisites are installed');
    diag("missing: $_") for @missing;
    done_testing();
    exit 1;
}

# the registry under test, serving ui/ at /

my ($t, $base, $dev);
my $tmp = tempdir('heph-ui-XXXXXX', TMPDIR => 1,
    CLEANUP => !$ENV{TEST_NGINX_LEAVE});
chmod 0755, $tmp;    # nginx workers read dev/referrers in registry2 mode

if ($target eq 'registry2') {
    my $port = Hephaestus::Test::free_port();
    my $port2 = Hephaestus::Test::free_port();
    $dev = "$tmp/dev";
    my $o = `sh '$TOP/t/ui/dev-env.sh' start '$dev' $port $port2 2>&1`;
    ok($? == 0, 'registry:2 behind nginx started') or do {
        diag($o);
        done_testing();
        exit 1;
    };
    $base = "http://127.0.0.1:$port";

} else {
    my $registry = <<'EOF';
            registry on;
            registry_root %%DATA%%;
            registry_delete on;
            client_max_body_size 0;
            registry_user ui-tester;
EOF
    $t = Hephaestus::Test->new(
        servers => <<"EOF",
    server {
        listen 127.0.0.1:%%PORT2%%;
        server_name ui;

        location / {
            root $TOP/ui;
            index index.html;
            include /etc/nginx/mime.types;
            default_type application/octet-stream;
        }

        location /v2/ {
$registry
        }
    }
EOF
    )->run();
    $base = $t->base(2);
}

my $host = $base =~ s{^http://}{}r;
my $http = HTTP::Tiny->new(timeout => 30);

my $r = $http->get("$base/");
is($r->{status}, 200, 'GET / serves ui/index.html');
like($r->{content} // '', qr/<script type="module" src="app\.js">/,
    'index.html loads app.js as a module');
$r = $http->get("$base/app.js");
like($r->{headers}{'content-type'} // '', qr{^(?:application|text)/javascript},
    'app.js is served as JavaScript (module scripts need it)');

$r = $http->get("$base/v2/");
is($r->{status}, 200, 'GET /v2/ answers 200');
is($r->{headers}{'x-registry-delete'} // '', 'enabled',
    'GET /v2/ sends X-Registry-Delete: enabled when deletes are allowed')
    or diag('the UI shows delete controls only with this header');

# push the images; the facts come from the bytes pushed

my $facts_json = `perl '$TOP/t/ui/fixtures.pl' --registry $host --work '$tmp/images' --fillers 3 @{[ $dev ? "--referrers-dir '$dev/referrers'" : '' ]} 2>'$tmp/fixtures.err'`;
ok($? == 0, 'skopeo pushed the fixture images')
    or diag(read_file("$tmp/fixtures.err") // '');
my $facts = eval { JSON::PP->new->decode($facts_json) };
ok($facts && $facts->{repos}{'library/busybox'}, 'fixture facts')
    or do { done_testing(); exit 1 };

my $img = $facts->{repos}{'library/busybox'}{tags}{'1.36'}[0];
$r = $http->get("$base/v2/library/busybox/manifests/1.36",
    { headers => { accept => 'application/vnd.oci.image.manifest.v1+json' } });
is($r->{headers}{'docker-content-digest'} // '', $img->{digest},
    'the registry serves the pushed manifest');
my $idx = $facts->{repos}{'demo/multi'}{index}{v1};
$r = $http->get("$base/v2/demo/multi/manifests/v1",
    { headers => { accept => 'application/vnd.oci.image.index.v1+json' } });
is($r->{headers}{'docker-content-digest'} // '', $idx,
    'the registry serves the pushed image index');

$facts->{base} = $base;
$facts->{expect} = {
    user => $dev ? 'dev' : 'ui-tester',
    tagDelete => $dev ? JSON::PP::false : JSON::PP::true,  # registry:2 cannot
    referrers => JSON::PP::true,
};
write_file("$tmp/facts.json", JSON::PP->new->canonical->encode($facts));

# the browser test

$ENV{UI_TEST_OUT} = $out;
my @lines = `timeout 600 node '$TOP/t/ui/browser-test.mjs' '$tmp/facts.json' 2>&1`;
my $status = $?;
my ($checks, $pending) = (0, undef);

for my $line (@lines) {
    chomp $line;

    if ($line =~ /^(not )?ok \d+ - (.*)$/) {
        my ($failed, $name) = ($1, $2);
        $checks++;
        $pending = $failed ? [] : undef;
        ok(!$failed, "browser: $name");
        next;
    }

    if ($line =~ /^# (.*)$/ && $pending) {
        diag("  $1");
    } elsif ($line !~ /^1\.\.\d+$/ && $line !~ /^# /) {
        diag("browser-test: $line");
    }
}

ok($checks >= 50, "the browser test ran its checks ($checks)");
is($status >> 8, 0, 'browser test exit status 0');
note("screenshots in $out");

# stop

if ($dev) {
    system('sh', "$TOP/t/ui/dev-env.sh", 'stop', $dev);
    $dev = undef;
} else {
    $t->stop;
}

done_testing();

END {
    system('sh', "$TOP/t/ui/dev-env.sh", 'stop', $dev) if $dev;
}

sub have {
    my ($cmd) = @_;
    for my $d (split /:/, $ENV{PATH} || '/usr/bin:/bin') {
        return 1 if -x "$d/$cmd";
    }
    return 0;
}
