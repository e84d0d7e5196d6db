import Foundation
import MartletCore

/// The pieces pages are made of: tables, forms, buttons that post, status badges.
enum Components {
    struct Column {
        let title: String
        let cell: (JSON) -> HTML
        init(_ title: String, _ cell: @escaping (JSON) -> HTML) { self.title = title; self.cell = cell }
        /// A column showing one attribute as text.
        init(_ title: String, key: String) { self.init(title) { HTML(stringLiteral: HTML.escape(Components.text($0[key]))) } }
    }

    /// `live`: each row carries its resource's ID, for the page's script to refresh its `data-cell`s.
    static func table(_ rows: [JSON], _ columns: [Column], empty: String, id: String? = nil, live: Bool = false) -> HTML {
        guard !rows.isEmpty else { return "<p class=\"empty\">\(empty)</p>" }
        let head = HTML.join(columns.map { "<th scope=\"col\">\($0.title)</th>" })
        let body = HTML.join(rows.map { row in
            let rowID: HTML = live ? " data-id=\"\(row["id"]?.stringValue)\"" : ""
            return "<tr\(rowID)>\(HTML.join(columns.map { "<td>\($0.cell(row))</td>" }))</tr>"
        })
        let idAttribute: HTML = id.map { " id=\"\($0)\"" } ?? ""
        return "<div class=\"scroll\"><table\(idAttribute)><thead><tr>\(head)</tr></thead><tbody>\(body)</tbody></table></div>"
    }

    /// Any JSON value as short text.
    static func text(_ value: JSON?) -> String {
        switch value {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .bool(let b): return b ? "Yes" : "No"
        case .array(let items): return items.map { text($0) }.joined(separator: ", ")
        case .null, nil: return "-"
        case .object: return "…"
        }
    }

    enum FieldKind {
        case text, number, password, textarea, checkbox, file
        /// Sent with the form, not shown (which row a row's form acts on).
        case hidden
        case select([(value: String, label: String)])
        case multiple([(value: String, label: String)])
    }

    struct Field {
        let name: String
        let label: String
        let kind: FieldKind
        var required = false
        var value = ""
        var hint = ""
    }

    /// A form that posts to `action` with the session's CSRF token.
    static func form(_ visit: Visit, action: String, _ fields: [Field], submit: String, id: String? = nil) -> HTML {
        let controls = HTML.join(fields.map { field in
            let fieldID = "f-" + (id ?? "form") + "-" + field.name
            let required: HTML = field.required ? " required" : ""
            let control: HTML
            switch field.kind {
            case .text: control = "<input id=\"\(fieldID)\" name=\"\(field.name)\" value=\"\(field.value)\"\(required)>"
            case .number: control = "<input id=\"\(fieldID)\" name=\"\(field.name)\" type=\"number\" min=\"0\" value=\"\(field.value)\"\(required)>"
            case .password: control = "<input id=\"\(fieldID)\" name=\"\(field.name)\" type=\"password\"\(required)>"
            case .textarea: control = "<textarea id=\"\(fieldID)\" name=\"\(field.name)\" rows=\"4\"\(required)>\(field.value)</textarea>"
            case .checkbox: control = "<input id=\"\(fieldID)\" name=\"\(field.name)\" type=\"checkbox\" value=\"1\"\(HTML(raw: field.value.isEmpty ? "" : " checked"))>"
            case .hidden: control = ""
            case .file: control = "<input id=\"\(fieldID)\" name=\"\(field.name)\" type=\"file\"\(required)>"
            case .select(let options), .multiple(let options):
                let multiple: HTML = { if case .multiple = field.kind { return " multiple" } else { return "" } }()
                let items = HTML.join(options.map { "<option value=\"\($0.value)\"\(HTML(raw: $0.value == field.value ? " selected" : ""))>\($0.label)</option>" })
                control = "<select id=\"\(fieldID)\" name=\"\(field.name)\"\(multiple)\(required)>\(items)</select>"
            }
            if case .hidden = field.kind { return "<input type=\"hidden\" name=\"\(field.name)\" value=\"\(field.value)\">" }
            let hint: HTML = field.hint.isEmpty ? "" : "<small>\(field.hint)</small>"
            return "<div class=\"field\"><label for=\"\(fieldID)\">\(field.label)</label>\(control)\(hint)</div>"
        })
        let idAttribute: HTML = id.map { " id=\"\($0)\"" } ?? ""
        return "<form class=\"panel\" method=\"post\" action=\"\(action)\"\(idAttribute)>\(visit.csrfInput)\(controls)<button type=\"submit\">\(submit)</button></form>"
    }

    /// A button for an action on a row (delete, reboot, …); `confirm` asks first. It submits the
    /// page's one `actions` form, which holds the CSRF token, with its fields in the query string,
    /// so a table of a thousand rows does not carry a thousand forms.
    static func button(_ visit: Visit, action: String, _ label: String, confirm: String? = nil, fields: [(String, String)] = []) -> HTML {
        var query = URLComponents()
        query.queryItems = fields.map { URLQueryItem(name: $0.0, value: $0.1) }
        let target = fields.isEmpty ? action : action + "?" + (query.percentEncodedQuery ?? "")
        let ask: HTML = confirm.map { " data-confirm=\"\($0)\"" } ?? ""
        return "<button type=\"submit\" class=\"row-action\" form=\"actions\" formaction=\"\(target)\"\(ask)>\(label)</button>"
    }

    /// A status word with its colour class; transitional ones are polled by the page's script.
    static func status(_ value: String?) -> HTML {
        let word = value ?? "-"
        return "<span class=\"status \(HTML(raw: kind(of: word)))\" data-cell=\"status\">\(word)</span>"
    }

    /// The colour class of a status: good, bad, idle, or busy (on its way somewhere).
    static func kind(of status: String) -> String {
        let upper = status.uppercased()
        if ["ACTIVE", "AVAILABLE", "IN-USE", "UP"].contains(upper) { return "good" }
        if upper.hasPrefix("ERROR") || upper == "DOWN" { return "bad" }
        if ["SHUTOFF", "PAUSED", "SUSPENDED", "SHELVED_OFFLOADED", "SHELVED", "STOPPED", "-"].contains(upper) { return "idle" }
        return "busy"
    }

    static func options(_ items: [JSON], label: (JSON) -> String = { $0["name"]?.stringValue ?? $0["id"]?.stringValue ?? "" },
                        none: String? = nil) -> [(value: String, label: String)] {
        var result: [(value: String, label: String)] = none.map { [("", $0)] } ?? []
        result += items.compactMap { item in item["id"]?.stringValue.map { ($0, label(item)) } }
        return result
    }

    /// ID → name of a listing (servers, networks, services), for showing what a row refers to.
    static func names(_ items: [JSON]) -> [String: String] {
        Dictionary(items.compactMap { item in item["id"]?.stringValue.map { ($0, item["name"]?.stringValue ?? $0) } }, uniquingKeysWith: { a, _ in a })
    }

    static func link(_ href: String, _ text: String) -> HTML { "<a href=\"\(href)\">\(text)</a>" }

    /// A path segment, percent-encoded.
    static func segment(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "-_.~"))) ?? text
    }
}
