/// Text from outside (a job's stderr, a name, a pool's message) made safe to show on a terminal
/// and in one table cell or log line: terminal escape sequences are dropped, line breaks and tabs
/// become spaces, and any other control character becomes U+FFFD, so no job can recolour, move
/// the cursor of, or retitle the terminal of whoever reads its status.
public func printableText(_ text: String) -> String {
    guard text.unicodeScalars.contains(where: isControl) else { return text }
    var result = String.UnicodeScalarView()
    var scalars = text.unicodeScalars.makeIterator()
    while let scalar = scalars.next() {
        switch scalar.value {
        case 0x1B:
            skipEscapeSequence(&scalars)
        case 0x09, 0x0A, 0x0D:
            result.append(" ")
        case _ where isControl(scalar):
            result.append("\u{FFFD}")
        default:
            result.append(scalar)
        }
    }
    return String(result)
}

private func isControl(_ scalar: Unicode.Scalar) -> Bool {
    scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
}

/// Consumes the rest of an escape sequence that began with ESC: a control sequence (ESC [ ...
/// final byte), an operating-system command or string (ESC ] ... BEL or ESC \), or a two-byte one.
private func skipEscapeSequence(_ scalars: inout String.UnicodeScalarView.Iterator) {
    guard let kind = scalars.next() else { return }
    switch kind {
    case "[":
        while let next = scalars.next(), !(0x40...0x7E).contains(next.value) {}
    case "]", "P", "X", "^", "_":
        var previous: Unicode.Scalar = " "
        while let next = scalars.next() {
            if next.value == 0x07 || (previous.value == 0x1B && next == "\\") { break }
            previous = next
        }
    default:
        break
    }
}
