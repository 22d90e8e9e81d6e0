//! The test hosts themselves: two fresh hosts side by side, reachable over SSH, reset
//! to fresh, isolated from each other, and gone without a trace when brought down.

mod common;

use common::vps::{self, Vps};
use std::thread;

#[test]
fn two_hosts_boot_reset_stay_apart_and_go_away() {
    if !vps::vps_available() {
        return;
    }

    // Down first, so both start fresh even if an earlier run left them up.
    let mail1 = fresh("mail1", "127.0.0.11");
    let mail2 = fresh("mail2", "127.0.0.12");

    for host in [&mail1, &mail2] {
        assert_eq!(
            host.ssh_ok("hostname").trim(),
            host.name,
            "wrong host on {}",
            host.address
        );
        assert_eq!(host.ssh_ok("systemctl is-system-running").trim(), "running");
        let listening = host.ssh_ok("ss -Hltn 'sport = :22'");
        assert!(
            listening.contains(&format!("{}:22", host.address)),
            "{listening}"
        );
        assert_no_python(host);
    }

    installed_package_is_gone_after_reset(&mail1, &mail2);
    restarting_a_service_leaves_the_other_hosts_alone(&mail1, &mail2);
    down_leaves_nothing_behind(&[mail1, mail2]);
}

fn fresh(name: &str, address: &str) -> Vps {
    let host = Vps {
        name: name.into(),
        address: address.into(),
    };
    host.down();
    Vps::up(name, address)
}

fn assert_no_python(host: &Vps) {
    let out = host.ssh("command -v python3");
    assert!(
        !out.status.success(),
        "{} has python3; dsprov must not rely on it",
        host.name
    );
}

fn installed_package_is_gone_after_reset(mail1: &Vps, mail2: &Vps) {
    mail1.ssh_ok("apt-get install -y --no-install-recommends less");
    mail1.ssh_ok("command -v less");
    assert!(
        !mail2.ssh("command -v less").status.success(),
        "less leaked to mail2"
    );

    mail1.reset();
    assert!(
        !mail1.ssh("command -v less").status.success(),
        "less survived the reset"
    );
    assert_eq!(mail1.ssh_ok("hostname").trim(), "mail1");
}

fn restarting_a_service_leaves_the_other_hosts_alone(mail1: &Vps, mail2: &Vps) {
    // Both at once: two hosts installing together must not trip over the shared archive.
    let install = "apt-get install -y --no-install-recommends cron";
    thread::scope(|s| {
        let one = s.spawn(|| mail1.ssh_ok(install));
        let two = s.spawn(|| mail2.ssh_ok(install));
        one.join().unwrap();
        two.join().unwrap();
    });

    let before1 = main_pid(mail1, "cron");
    let before2 = main_pid(mail2, "cron");
    mail1.ssh_ok("systemctl restart cron");
    assert_ne!(
        main_pid(mail1, "cron"),
        before1,
        "cron on mail1 did not restart"
    );
    assert_eq!(
        main_pid(mail2, "cron"),
        before2,
        "restarting mail1's cron hit mail2's"
    );

    // Hosts sharing cgroups see each other's processes as ones they cannot name.
    for host in [mail1, mail2] {
        let status = host.ssh("systemctl status --no-pager cron");
        let stderr = String::from_utf8_lossy(&status.stderr);
        assert!(
            !stderr.contains("Failed to dump process list"),
            "{}: {stderr}",
            host.name
        );
    }
    assert_ne!(
        init_cgroup(mail1),
        init_cgroup(mail2),
        "the hosts share a cgroup"
    );

    mail1.ssh_ok("systemctl stop cron");
    assert_eq!(
        main_pid(mail2, "cron"),
        before2,
        "stopping mail1's cron hit mail2's"
    );
    assert_eq!(mail2.ssh_ok("systemctl is-active cron").trim(), "active");
}

fn main_pid(host: &Vps, unit: &str) -> u32 {
    let out = host.ssh_ok(&format!("systemctl show -p MainPID --value {unit}"));
    let pid = out
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("MainPID of {unit}: {out:?}"));
    assert_ne!(pid, 0, "{unit} is not running on {}", host.name);
    pid
}

fn down_leaves_nothing_behind(hosts: &[Vps]) {
    let pids: Vec<u32> = hosts
        .iter()
        .map(|h| {
            h.nspawn_pid()
                .unwrap_or_else(|| panic!("no nspawn pid for {}", h.name))
        })
        .collect();

    for host in hosts {
        host.down();
    }

    for (host, pid) in hosts.iter().zip(pids) {
        assert!(!alive(pid), "{} nspawn {pid} lives on", host.name);
        let machine = format!("--machine={}", host.name);
        assert!(
            nspawns().iter().all(|argv| !argv.contains(&machine)),
            "an nspawn for {} remains",
            host.name
        );
        for hierarchy in ["unified", "systemd"] {
            let cgroup = format!("/sys/fs/cgroup/{hierarchy}/dsprov-vps-{}", host.name);
            assert!(!std::path::Path::new(&cgroup).exists(), "{cgroup} remains");
        }
        let root = vps::vps_home().join("hosts").join(&host.name).join("root");
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
        assert!(
            !mounts.contains(&root.display().to_string()),
            "{} is still mounted",
            root.display()
        );
    }
}

/// The systemd cgroup of the host's init as the machine sees it.
fn init_cgroup(host: &Vps) -> String {
    let nspawn = host.nspawn_pid().expect("no nspawn pid");
    let children = std::fs::read_to_string(format!("/proc/{nspawn}/task/{nspawn}/children"))
        .expect("cannot read the children of nspawn");
    let init = children
        .split_whitespace()
        .next()
        .expect("nspawn has no child");
    let cgroups = std::fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap();
    let line = cgroups.lines().find(|l| l.contains(":name=systemd:"));
    line.expect("no name=systemd cgroup").to_string()
}

/// Whether `pid` runs. A zombie does not: an nspawn that exited stays one until the
/// machine's init reaps it, because it outlived the script that started it.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// The argument vectors of every systemd-nspawn on the machine.
fn nspawns() -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let argv: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if argv.first().is_some_and(|a| a.ends_with("systemd-nspawn")) {
            found.push(argv);
        }
    }
    found
}
