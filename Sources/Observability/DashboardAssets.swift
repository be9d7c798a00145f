/// The dashboard's page, script and style, shipped inside the binary: nothing is fetched from
/// elsewhere.
enum DashboardAssets {
    struct Asset {
        var contentType: String
        var body: String
    }

    static let files: [String: Asset] = [:]
}
