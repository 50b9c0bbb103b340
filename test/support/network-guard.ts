/**
 * Tests talk to 127.0.0.1 and Unix sockets only. Any other destination (an SDK probing a cloud
 * metadata address, a typo'd endpoint) fails loudly instead of leaving the machine.
 */
import dns from "node:dns"
import net from "node:net"

process.env["AWS_EC2_METADATA_DISABLED"] = "true"

const loopback = (host: string | undefined): boolean =>
  host === undefined || host === "localhost" || host === "::1" || host === "[::1]" || /^127\./.test(host)

const blocked = (what: string) => new Error(`network-guard: connection to ${what} blocked (tests use loopback only)`)

const originalConnect = net.Socket.prototype.connect
net.Socket.prototype.connect = function (this: net.Socket, ...args: Array<any>) {
  const first = args[0]
  const opts = Array.isArray(first) ? first[0] : first
  if (typeof opts === "object" && opts !== null && !("path" in opts && opts.path)) {
    if (!loopback(opts.host)) {
      process.nextTick(() => this.destroy(blocked(String(opts.host))))
      return this
    }
  } else if (typeof opts === "number" && !loopback(args[1])) {
    process.nextTick(() => this.destroy(blocked(String(args[1]))))
    return this
  }
  return (originalConnect as any).apply(this, args)
} as typeof net.Socket.prototype.connect

const originalLookup = dns.lookup
;(dns as any).lookup = function (host: string, ...rest: Array<any>) {
  if (!loopback(host)) {
    const cb = rest[rest.length - 1]
    if (typeof cb === "function") return process.nextTick(() => cb(blocked(host)))
  }
  return (originalLookup as any).call(dns, host, ...rest)
}

// The promise API is a separate function, which a patched dns.lookup does not cover.
const originalPromisesLookup = dns.promises.lookup
;(dns.promises as any).lookup = function (host: string, ...rest: Array<any>) {
  return loopback(host) ? (originalPromisesLookup as any).call(dns.promises, host, ...rest) : Promise.reject(blocked(host))
}
