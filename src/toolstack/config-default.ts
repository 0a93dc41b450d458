/**
 * The embedded default host: what `pvnet up` runs without a file and what
 * `pvnet config default` prints for a user to start from, so it carries its own
 * explanations. docs/config.md has the full reference.
 */
export const DEFAULT_HOST_YAML = `# A pvnet host: its domains, their virtual NICs (vifs) and the switches the vifs
# plug into. Check a file with \`pvnet config check FILE\`; docs/config.md
# describes every key, its type and its default.

# The domains, in order: the first gets domid 0, the next 1, and so on.
domains:
  # Domain-0 comes first. It is the driver domain: it runs xenstored, the
  # backend (netback) of every vif below and the VALE switches. It has no vifs.
  - name: Domain-0
    memory: 64M # MiB as an integer, or a size with an M or G suffix (max 4G)

  - name: guest1
    memory: 32M # the default
    # Each vif is one netfront in this guest, served by a netback in Domain-0
    # that is attached to a bridge as the port vif<domid>.<index>.
    vifs:
      - mac: "00:16:3e:00:01:00" # unicast; 00:16:3e is Xen's OUI. Optional:
        #                          the default is 00:16:3e:<domid>:<index>
        ip: 10.0.0.1/24 # the guest stack's address and prefix; optional
        bridge: vale0 # a name under \`bridges\` (default vale0)
        queues: 1 # queue pairs, 1 to 8, frames spread by flow hash (default 1)
        ring-page-order: 0 # each ring is 2^order pages, 0 to 4 (default 0)
        trusted: true # false: the guest copies every frame out of the pages it
        #               shares with the backend, as for an untrusted driver domain
        features: # what netfront offers the backend; each defaults to true
          sg: true # scatter-gather: a frame may span several slots
          gso-tcpv4: true # TCP segmentation offload over IPv4
          gso-tcpv6: true # ... and over IPv6
          csum-offload: true # IPv4 TCP/UDP checksums may be left blank
          ipv6-csum-offload: true # IPv6 TCP/UDP checksums may be left blank
          split-event-channels: true # separate TX and RX event channels
          rx-notify: true # notify on posting RX buffers (only true for now)

  - name: guest2
    vifs:
      # Everything left out takes the defaults written out for guest1.
      - mac: "00:16:3e:00:02:00"
        ip: 10.0.0.2/24
        bridge: vale0

# The switches, by name (a VALE name: "vale" and up to 11 letters, digits or _).
# Vifs on one bridge must share one IPv4 subnet.
bridges:
  vale0: {}
  # To record every frame the switch forwards (Domain-0 writes it; the directory
  # must exist; format pcap, the default, or pcapng with one interface per port;
  # count, optional, stops after that many frames):
  #   vale0: { capture: { file: vale0.pcap, format: pcap, count: 1000 } }
  # To reach other pvnet hosts or a Linux vxlan device over VXLAN (port defaults
  # to 4789, mtu to 1450; a remote may be a.b.c.d:port):
  #   vale0: { uplinks: [{ vxlan: { local: 192.0.2.1, vni: 42, remotes: [192.0.2.2] } }] }
`;
