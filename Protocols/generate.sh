#!/usr/bin/env bash
# Generates the code for the wire protocol from Protocols/junction/v1/*.proto: Swift into
# Sources/Wire/Generated, and C (protoc-c, for the C advertiser) into
# Sources/junction-advertiser/generated; records what it generated from in
# Sources/Wire/Generated/SOURCES.sha256.
#
#   Protocols/generate.sh           regenerate (builds protoc-gen-swift from the swift-protobuf
#                                   package once, in release mode, into .build-protoc; needs
#                                   protoc and protoc-c: protobuf-compiler, protobuf-c-compiler)
#   Protocols/generate.sh --check   fail when the committed code is stale: a .proto or a generated
#                                   file changed since the last generation. Needs no plugin build.
#   Protocols/generate.sh --full-check
#                                   regenerate into a temporary folder and compare byte for byte.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
protos_dir=Protocols
out=Sources/Wire/Generated
out_c=Sources/junction-advertiser/generated
stamp=$out/SOURCES.sha256
scratch=.build-protoc

fingerprint() {
  # One line per input and output file: its digest and path, in a stable order.
  (cd "$root" && sha256sum $(find "$protos_dir/junction" -name '*.proto' | LC_ALL=C sort) \
                           $(find "$1" -name '*.pb.swift' | LC_ALL=C sort) | sed "s#$1/#$out/#"
   cd "$root" && sha256sum $(find "$2" -name '*.pb-c.[ch]' | LC_ALL=C sort) | sed "s#$2/#$out_c/#")
}

build_plugin() {
  if ! command -v protoc >/dev/null; then
    echo "protoc is missing: apt-get install -y protobuf-compiler" >&2
    exit 1
  fi
  swift package resolve >/dev/null
  local package=.build/checkouts/swift-protobuf
  if [ ! -x "$scratch/release/protoc-gen-swift" ]; then
    echo "building protoc-gen-swift (once, about a minute in release mode)..." >&2
    swift build -c release --package-path "$package" --scratch-path "$scratch" \
      --product protoc-gen-swift >&2
  fi
  plugin=$root/$scratch/release/protoc-gen-swift
}

generate_into() {
  local target=$1 target_c=$2
  if ! command -v protoc-c >/dev/null; then
    echo "protoc-c is missing: apt-get install -y protobuf-c-compiler" >&2
    exit 1
  fi
  mkdir -p "$target" "$target_c"
  rm -f "$target"/*.pb.swift
  rm -rf "$target_c/junction"
  protoc --plugin=protoc-gen-swift="$plugin" \
    --proto_path="$protos_dir" \
    --swift_opt=Visibility=Public \
    --swift_opt=FileNaming=DropPath \
    --swift_out="$target" \
    $(find "$protos_dir/junction" -name '*.proto' | LC_ALL=C sort)
  (cd "$protos_dir" && protoc-c --c_out="$target_c" $(find junction -name '*.proto' | LC_ALL=C sort))
}

case "${1:-}" in
  --check)
    if [ ! -f "$stamp" ]; then
      echo "stale: $stamp is missing; run Protocols/generate.sh" >&2
      exit 1
    fi
    if ! diff <(fingerprint "$out" "$out_c") "$stamp" >/dev/null; then
      echo "stale: the .proto files or the generated code changed since the last generation:" >&2
      diff <(fingerprint "$out" "$out_c") "$stamp" >&2 || true
      echo "run Protocols/generate.sh and commit the result" >&2
      exit 1
    fi
    echo "generated code is current ($(grep -c '\.proto$' "$stamp") .proto files)"
    ;;
  --full-check)
    build_plugin
    temporary=$(mktemp -d)
    trap 'rm -rf "$temporary"' EXIT
    generate_into "$temporary/swift" "$temporary/c"
    if ! diff -r -x SOURCES.sha256 "$temporary/swift" "$out" || ! diff -r "$temporary/c" "$out_c"; then
      echo "stale: regenerated code differs; run Protocols/generate.sh and commit the result" >&2
      exit 1
    fi
    echo "generated code matches a fresh generation"
    ;;
  "")
    build_plugin
    generate_into "$out" "$root/$out_c"
    fingerprint "$out" "$out_c" > "$stamp"
    echo "generated $(ls "$out"/*.pb.swift | wc -l) files in $out and $(ls "$out_c"/junction/v1/*.pb-c.c | wc -l) in $out_c"
    ;;
  *)
    echo "usage: $0 [--check | --full-check]" >&2
    exit 2
    ;;
esac
