import Foundation
import MartletCore

/// The project's overview: quota use as rings, and the last week's usage as bars.
enum OverviewView {
    static func addRoutes(_ routes: Routes) {
        routes.page("project") { visit in
            async let compute = visit.get("/compute/v2.1/limits")
            async let volumes = visit.get("/volume/v3/limits")
            async let network = visit.get("/network/v2.0/quotas/\(visit.projectID)/details")
            let c = try await compute["limits"]?["absolute"] ?? [:]
            let v = (try? await volumes)?["limits"]?["absolute"] ?? [:]
            let n = (try? await network)?["quota"] ?? [:]
            func number(_ json: JSON?, _ key: String) -> Double {
                switch json?[key] { case .int(let i): Double(i); case .double(let d): d; default: 0 }
            }
            var rings: [HTML] = [
                Charts.ring("Instances", used: number(c, "totalInstancesUsed"), limit: number(c, "maxTotalInstances")),
                Charts.ring("VCPUs", used: number(c, "totalCoresUsed"), limit: number(c, "maxTotalCores")),
                Charts.ring("RAM", used: number(c, "totalRAMUsed"), limit: number(c, "maxTotalRAMSize"), unit: " MB"),
                Charts.ring("Volumes", used: number(v, "totalVolumesUsed"), limit: number(v, "maxTotalVolumes")),
                Charts.ring("Volume Storage", used: number(v, "totalGigabytesUsed"), limit: number(v, "maxTotalVolumeGigabytes"), unit: " GB"),
            ]
            for (key, title) in [("floatingip", "Floating IPs"), ("security_group", "Security Groups"), ("network", "Networks"),
                                 ("port", "Ports"), ("router", "Routers")] {
                rings.append(Charts.ring(title, used: number(n[key], "used"), limit: number(n[key], "limit")))
            }
            let usage = try await lastWeek(visit)
            return visit.page("Overview", """
                <section aria-labelledby="limits"><h2 id="limits">Limit Summary</h2><div class="charts">\(rings)</div></section>
                <section aria-labelledby="usage"><h2 id="usage">Usage Summary</h2><div class="charts">\(usage)</div></section>
                """)
        }
    }

    /// vCPU-hours per day over the last seven days, from one usage call over the week: each
    /// server's running time is cut into the days it overlaps.
    static func lastWeek(_ visit: Visit) async throws -> HTML {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let now = Date()
        let days = (0..<7).reversed().map { calendar.date(byAdding: .day, value: -$0, to: calendar.startOfDay(for: now))! }
        let stamp = DateFormatter()
        stamp.locale = Locale(identifier: "en_US_POSIX")
        stamp.timeZone = calendar.timeZone
        stamp.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        let usage = try await visit.get("/compute/v2.1/os-simple-tenant-usage/\(visit.projectID)?start=\(stamp.string(from: days[0]))&end=\(stamp.string(from: now))")
        var hours = [Double](repeating: 0, count: days.count)
        for server in usage["tenant_usage"]?["server_usages"]?.array ?? [] {
            guard let started = server["started_at"]?.stringValue.flatMap(Timestamp.parse) else { continue }
            let ended = server["ended_at"]?.stringValue.flatMap(Timestamp.parse) ?? now
            let vcpus = Double(Components.text(server["vcpus"])) ?? 0
            for (index, day) in days.enumerated() {
                let overlap = min(ended, day.addingTimeInterval(86400), now).timeIntervalSince(max(started, day))
                if overlap > 0 { hours[index] += overlap / 3600 * vcpus }
            }
        }
        let label = DateFormatter()
        label.dateFormat = "EEE"
        label.timeZone = calendar.timeZone
        label.locale = stamp.locale
        return Charts.bars("vCPU hours per day", zip(days, hours).map { (label.string(from: $0), $1) }, unit: "vCPU·h")
    }
}
