/// A number as people write it: no trailing zeros or ".0"; `decimals` places, or more for small
/// values so that they do not round to 0 (a 9.6 kbit/s link is 0.0000096 Gbps).
public func compactNumber(_ value: Double, decimals: Int = 3) -> String {
    if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    guard value.isFinite else { return value > 0 ? "inf" : value < 0 ? "-inf" : "nan" }
    var places = decimals
    var smallest = 1.0
    for _ in 0..<max(0, decimals) { smallest /= 10 }
    if abs(value) < smallest {
        // Three significant digits: the places up to the first digit, and two more.
        var scaled = abs(value)
        var leadingPlaces = 0
        while scaled < 1 {
            scaled *= 10
            leadingPlaces += 1
        }
        places = leadingPlaces + 2
    }
    // Past 64-bit fixed point the shortest exact form ("1.5e+20") says it best.
    var text = fixedPoint(value, places: places) ?? "\(value)"
    guard text.contains("."), !text.contains("e") else { return text }
    while text.hasSuffix("0") { text.removeLast() }
    if text.hasSuffix(".") { text.removeLast() }
    return text
}

/// `value` with `places` decimals, in integer arithmetic (formatting through C's printf costs
/// more than a placement decision). Nil when it does not fit 64 bits.
func fixedPoint(_ value: Double, places: Int) -> String? {
    guard places >= 0, places <= 15 else { return nil }
    var scale: Int64 = 1
    for _ in 0..<places { scale *= 10 }
    let scaled = (abs(value) * Double(scale)).rounded()
    guard scaled < 9e18 else { return nil }
    let units = Int64(scaled)
    let whole = String(units / scale)
    let sign = value < 0 && units != 0 ? "-" : ""
    guard places > 0 else { return sign + whole }
    let fraction = String(units % scale)
    return sign + whole + "." + String(repeating: "0", count: places - fraction.count) + fraction
}

/// A span of seconds for people: 45 s, 12 min, 3.5 h, 2.1 d.
public func duration(_ seconds: Double) -> String {
    switch seconds {
    case ..<120: "\(compactNumber(seconds)) s"
    case ..<3_600: "\(compactNumber((seconds / 60 * 10).rounded() / 10)) min"
    case ..<172_800: "\(compactNumber((seconds / 3_600 * 10).rounded() / 10)) h"
    default: "\(compactNumber((seconds / 86_400 * 10).rounded() / 10)) d"
    }
}
