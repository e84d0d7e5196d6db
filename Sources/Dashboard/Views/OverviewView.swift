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

    /// vCPU-hours per day over the last seven days, from the usage API (one in-process call a day).
    static func lastWeek(_ visit: Visit) async throws -> HTML {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let today = calendar.startOfDay(for: Date())
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = calendar.timeZone
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        let label = DateFormatter()
        label.dateFormat = "EEE"
        label.timeZone = calendar.timeZone
        label.locale = formatter.locale
        var points: [(label: String, value: Double)] = []
        for offset in (0..<7).reversed() {
            let start = calendar.date(byAdding: .day, value: -offset, to: today)!
            let end = calendar.date(byAdding: .day, value: 1, to: start)!
            let usage = try await visit.get("/compute/v2.1/os-simple-tenant-usage/\(visit.projectID)?start=\(formatter.string(from: start))&end=\(formatter.string(from: min(end, Date())))")
            let hours: Double
            switch usage["tenant_usage"]?["total_vcpus_usage"] {
            case .double(let d): hours = d
            case .int(let i): hours = Double(i)
            default: hours = 0
            }
            points.append((label.string(from: start), hours))
        }
        return Charts.bars("vCPU hours per day", points, unit: "vCPU·h")
    }
}
