//! `xskd demo`: the main job on an embedded default. Builds a veth lab,
//! runs xskd on one end, shows the kernel on the other end talking to it,
//! prints what xskd counted, and tears the lab down (Ctrl-C included).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use xskd::lab::{Lab, XSKD_IP, XSKD_SIDE_KERNEL_IP};

struct Steps<'a> {
    lab: &'a Lab,
    interrupted: Arc<AtomicBool>,
    failures: usize,
}

impl Steps<'_> {
    /// Run a command in xskd's namespace (the admin endpoint lives there).
    fn xskd_ns(&mut self, what: &str, program: &str, args: &[&str]) -> Result<()> {
        if self.interrupted.load(Ordering::Relaxed) {
            bail!("interrupted");
        }
        println!("\n== {what}\n$ {program} {}", args.join(" "));
        let out = self.lab.xskd_ns_cmd(program).args(args).output()?;
        print!("{}", String::from_utf8_lossy(&out.stdout));
        if !out.status.success() {
            self.failures += 1;
            println!("!! {what}: FAILED ({})", out.status);
        }
        Ok(())
    }

    /// Run a command in the peer namespace, show its output, note failures.
    fn peer(&mut self, what: &str, program: &str, args: &[&str]) -> Result<()> {
        if self.interrupted.load(Ordering::Relaxed) {
            bail!("interrupted");
        }
        println!("\n== {what}\n$ {program} {}", args.join(" "));
        let out = self
            .lab
            .peer_cmd(program)
            .args(args)
            .output()
            .with_context(|| format!("running {program}"))?;
        print!("{}", String::from_utf8_lossy(&out.stdout));
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        if !out.status.success() {
            self.failures += 1;
            println!("!! {what}: FAILED ({})", out.status);
        }
        Ok(())
    }
}

pub fn demo() -> Result<()> {
    let interrupted = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, interrupted.clone())?;
    }
    let exe = std::env::current_exe().context("finding our own binary")?;
    println!(
        "xskd demo: building a veth lab (two network namespaces, one veth pair, 198.18.0.0/24)"
    );
    let lab = Lab::create("demo", 1)?;
    println!(
        "  xskd side: namespace {} interface {} -> xskd owns {XSKD_IP}, the kernel keeps {XSKD_SIDE_KERNEL_IP}",
        lab.ns_xskd, lab.if_xskd
    );
    println!(
        "  peer side: namespace {} interface {} -> Linux at 198.18.0.2",
        lab.ns_peer, lab.if_peer
    );
    let cert = lab.dir().join("https-cert.pem");
    let config = lab.config_toml(
        &[(0, None)],
        &format!(
            "[worker]\npoll = \"backoff\"\n\n[dns]\nzone = \"xskd.test.\"\nrecords = [{{ name = \"www\", ipv4 = \"198.18.0.1\" }}]\n\n[https]\nwrite_generated_cert = \"{}\"\n",
            cert.display()
        ),
    );
    let path = lab.write_config(&config)?;
    println!("\nconfig ({}):\n{config}", path.display());
    let xskd = lab.spawn_xskd(&exe, &path)?;
    println!("xskd is running (pid {})", xskd.pid().unwrap_or(0));

    let mut steps = Steps {
        lab: &lab,
        interrupted: interrupted.clone(),
        failures: 0,
    };
    let ip = XSKD_IP.to_string();
    let target = format!("{ip}:7");
    let exe_s = exe.to_string_lossy().into_owned();
    let result = (|| -> Result<()> {
        steps.peer(
            "ARP: who has 198.18.0.1?",
            "arping",
            &["-c", "3", "-w", "5", "-I", &lab.if_peer, &ip],
        )?;
        steps.peer(
            "ICMP echo",
            "ping",
            &["-c", "3", "-i", "0.2", "-W", "2", &ip],
        )?;
        steps.peer(
            "ICMP echo, 4000 bytes (fragmented both ways)",
            "ping",
            &["-c", "2", "-W", "2", "-s", "4000", &ip],
        )?;
        steps.peer(
            "ICMP echo, 65000 bytes",
            "ping",
            &["-c", "1", "-W", "2", "-s", "65000", &ip],
        )?;
        steps.peer(
            "UDP echo (RFC 862) on port 7, every size 1..1472, byte-exact",
            &exe_s,
            &["probe", "udp-echo", &target, "--min", "1", "--max", "1472"],
        )?;
        steps.peer(
            "DNS: the authoritative responder answers dig",
            "dig",
            &[
                "@198.18.0.1",
                "+tries=2",
                "+time=2",
                "+noall",
                "+answer",
                "+comments",
                "www.xskd.test",
                "A",
            ],
        )?;
        steps.peer(
            "UDP to a closed port: ICMP port unreachable",
            &exe_s,
            &["probe", "udp-closed", &format!("{ip}:9")],
        )?;
        steps.peer(
            "TCP echo (RFC 862): 3 connections x 1 MB from the kernel's TCP, half-close, byte-exact",
            &exe_s,
            &["probe", "tcp-echo", &target, "--bytes", "1000000", "--connections", "3"],
        )?;
        steps.peer(
            "HTTP/1.1 object store: PUT then GET (keep-alive), 404 for a missing path",
            "sh",
            &["-c", &format!(
                "curl -s -o /dev/null -w 'PUT %{{http_code}}\\n' -X PUT -H 'Content-Type: text/plain' --data-binary 'hello from xskd' http://{ip}/demo/hello \
                 && curl -s -i http://{ip}/demo/hello http://{ip}/demo/missing | grep -E '^(HTTP|Content-Length|ETag|Server)|hello'"
            )],
        )?;
        steps.peer(
            "HTTPS (TLS 1.3, rustls inside the worker, generated self-signed cert): GET the same object",
            "sh",
            &["-c", &format!(
                "curl -sv --cacert {} https://{ip}/demo/hello 2>&1 | grep -E 'SSL connection using|ALPN: server|^< HTTP|^hello'",
                cert.display()
            )],
        )?;
        steps.peer(
            "TCP to a closed port: refused with RST",
            "sh",
            &[
                "-c",
                &format!("if nc -z -w 2 {ip} 81; then exit 1; else echo 'connection refused'; fi"),
            ],
        )?;
        steps.peer(
            "The kernel's view: the client (active closer) holds TIME-WAIT",
            "ss",
            &["-tan", "dst", &ip],
        )?;
        steps.xskd_ns(
            "Prometheus metrics from the admin endpoint (a few lines)",
            "sh",
            &["-c", "curl -s http://127.0.0.1:9100/metrics | grep -E '^xskd_(icmp_echo_replies|udp_rx_datagrams|tcp_passive_opens|xdp_redirected)_total|^xskd_udp_echo_turnaround_merged_seconds'"],
        )?;
        steps.peer(
            "The kernel still owns 198.18.0.3 on the same interface (XDP_PASS)",
            "ping",
            &[
                "-c",
                "2",
                "-i",
                "0.2",
                "-W",
                "2",
                &XSKD_SIDE_KERNEL_IP.to_string(),
            ],
        )?;
        Ok(())
    })();
    let report = xskd.stop();
    result?;
    let report = report?;
    println!("\n== what xskd counted");
    print_report(&report);
    let failures = steps.failures;
    println!("\ntearing the lab down");
    drop(lab);
    if failures > 0 {
        bail!("{failures} demo step(s) failed");
    }
    println!("xskd demo: all steps passed");
    Ok(())
}

fn print_report(r: &serde_json::Value) {
    let x = &r["xdp"];
    println!(
        "XDP program: redirected {} to xskd, passed {} to the kernel, malformed {}, no socket {}",
        x["redirected"], x["passed"], x["malformed"], x["no_socket"]
    );
    for q in r["queues"].as_array().into_iter().flatten() {
        println!(
            "queue {}: rx {} frames / {} bytes, tx {} frames / {} bytes, zero-copy {}, UMEM frames accounted {}/{}",
            q["queue"], q["rx_frames"], q["rx_bytes"], q["tx_frames"], q["tx_bytes"], q["zero_copy"], q["frames_accounted"], q["frame_count"]
        );
        if let Some(stack) = q["stack"].as_object() {
            let mut line = String::new();
            for (k, v) in stack {
                if v.as_u64().is_some_and(|n| n > 0) {
                    line.push_str(&format!(" {k}={v}"));
                } else if let Some(obj) = v.as_object() {
                    for (k2, v2) in obj {
                        if v2.as_u64().is_some_and(|n| n > 0) {
                            line.push_str(&format!(" {k}.{k2}={v2}"));
                        }
                    }
                }
            }
            println!("  stack:{line}");
        }
    }
}
