import Foundation

/// Quota use drawn on the server as SVG: a ring per quota, and bars for usage over time.
enum Charts {
    /// `limit` below zero means no limit.
    static func ring(_ title: String, used: Double, limit: Double, unit: String = "") -> HTML {
        let unlimited = limit < 0
        let fraction = unlimited || limit == 0 ? (used > 0 && limit == 0 ? 1 : 0) : min(used / limit, 1)
        let radius = 40.0, circumference = 2 * Double.pi * radius
        let colour = fraction >= 0.9 ? "#c62828" : fraction >= 0.7 ? "#d29922" : "#1f6feb"
        let shown = unlimited ? "\(format(used)) of ∞" : "\(format(used)) of \(format(limit))"
        return """
            <figure class="quota"><svg viewBox="0 0 100 100" width="96" height="96" role="img" aria-label="\(title): \(shown)\(unit)">
            <circle cx="50" cy="50" r="40" fill="none" stroke="#e3e8ef" stroke-width="12"/>
            <circle cx="50" cy="50" r="40" fill="none" stroke="\(HTML(raw: colour))" stroke-width="12" transform="rotate(-90 50 50)"
             stroke-dasharray="\(HTML(raw: String(format: "%.2f %.2f", fraction * circumference, circumference)))"/>
            <text x="50" y="55" text-anchor="middle" font-size="16" fill="#1d2430">\(HTML(raw: unlimited ? "–" : String(Int((fraction * 100).rounded())) + "%"))</text>
            </svg><figcaption><strong>\(title)</strong><br>\(shown)\(unit)</figcaption></figure>
            """
    }

    /// One bar per (label, value), scaled to the largest.
    static func bars(_ title: String, _ points: [(label: String, value: Double)], unit: String) -> HTML {
        let width = 40 * max(points.count, 1) + 20, height = 140.0
        let top = max(points.map(\.value).max() ?? 0, 1)
        let shapes = HTML.join(points.enumerated().map { index, point in
            let h = (point.value / top) * (height - 40)
            let x = 20 + index * 40
            return """
                <rect x="\(x)" y="\(HTML(raw: String(format: "%.1f", height - 20 - h)))" width="28" height="\(HTML(raw: String(format: "%.1f", h)))" fill="#1f6feb"><title>\(point.label): \(format(point.value)) \(unit)</title></rect>
                <text x="\(x + 14)" y="\(Int(height) - 5)" text-anchor="middle" font-size="10" fill="#5b6675">\(point.label)</text>
                """
        })
        return """
            <figure class="usage"><figcaption>\(title) (\(unit), busiest \(format(top)))</figcaption>
            <svg viewBox="0 0 \(width) \(Int(height))" width="\(width)" height="\(Int(height))" role="img" aria-label="\(title)">\(shapes)</svg></figure>
            """
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.1f", value)
    }
}
