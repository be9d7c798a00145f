/// The demo network, Topologies/abilene.yaml, built into the command so `junction demo` runs
/// from anywhere. A test keeps the two identical.
let embeddedAbilene = #"""
# Imported by `junction topology import` from Abilene.graphml.
# Source: Internet Topology Zoo: Abilene (2005_02), CC BY 4.0; Knight et al., "The Internet Topology Zoo", IEEE JSAC 29(9), 2011.
# Import: 11 nodes, 14 links.

name: abilene
source: "Internet Topology Zoo: Abilene (2005_02), CC BY 4.0; Knight et al., \"The Internet Topology Zoo\", IEEE JSAC 29(9), 2011"
defaults:
  link_capacity_gbps: 10
  link_cost: 1
  propagation_km_per_ms: 200
nodes:
  - {id: New_York, name: New York, location: {lat: 40.71427, lon: -74.00597}, labels: {country: United States}}
  - {id: Chicago, location: {lat: 41.85003, lon: -87.65005}, labels: {country: United States}}
  - {id: Washington_DC, name: Washington DC, location: {lat: 38.89511, lon: -77.03637}, labels: {country: United States}}
  - {id: Seattle, location: {lat: 47.60621, lon: -122.33207}, labels: {country: United States}}
  - {id: Sunnyvale, location: {lat: 37.36883, lon: -122.03635}, labels: {country: United States}}
  - {id: Los_Angeles, name: Los Angeles, location: {lat: 34.05223, lon: -118.24368}, labels: {country: United States}}
  - {id: Denver, location: {lat: 39.73915, lon: -104.9847}, labels: {country: United States}}
  - {id: Kansas_City, name: Kansas City, location: {lat: 39.11417, lon: -94.62746}, labels: {country: United States}}
  - {id: Houston, location: {lat: 29.76328, lon: -95.36327}, labels: {country: United States}}
  - {id: Atlanta, location: {lat: 33.749, lon: -84.38798}, labels: {country: United States}}
  - {id: Indianapolis, location: {lat: 39.76838, lon: -86.15804}, labels: {country: United States}}
links:
  - {between: [New_York, Chicago], capacity_gbps: 9.953}
  - {between: [New_York, Washington_DC], capacity_gbps: 9.953}
  - {between: [Chicago, Indianapolis], capacity_gbps: 9.953}
  - {between: [Washington_DC, Atlanta], capacity_gbps: 9.953}
  - {between: [Seattle, Sunnyvale], capacity_gbps: 9.953}
  - {between: [Seattle, Denver], capacity_gbps: 9.953}
  - {between: [Sunnyvale, Los_Angeles], capacity_gbps: 9.953}
  - {between: [Sunnyvale, Denver], capacity_gbps: 9.953}
  - {between: [Los_Angeles, Houston], capacity_gbps: 9.953}
  - {between: [Denver, Kansas_City], capacity_gbps: 9.953}
  - {between: [Kansas_City, Houston], capacity_gbps: 9.953}
  - {between: [Kansas_City, Indianapolis], capacity_gbps: 9.953}
  - {between: [Houston, Atlanta], capacity_gbps: 9.953}
  - {between: [Atlanta, Indianapolis], capacity_gbps: 9.953}
pools:
  - id: nyc-cpu
    node: New_York
    capacity: {cpu_cores: 256, memory_gib: 1024}
    labels: {region: us-east, tier: cpu}
    price: {cpu_core_hour: 0.03}
  - id: atlanta-edge
    node: Atlanta
    capacity: {cpu_cores: 32, memory_gib: 128}
    labels: {region: us-east, tier: edge}
    price: {cpu_core_hour: 0.05}
    processing_latency_ms: 0.5
  - id: chicago-a100
    node: Chicago
    capacity: {cpu_cores: 128, memory_gib: 1024, gpus: {A100: 16}}
    labels: {region: us-central, tier: ai}
    price: {cpu_core_hour: 0.03, gpu_hour: {A100: 1.8}}
    queue_wait_s: 20
  - id: sunnyvale-h100
    node: Sunnyvale
    capacity: {cpu_cores: 256, memory_gib: 2048, gpus: {A100: 8, H100: 32}}
    labels: {region: us-west, tier: ai}
    price: {cpu_core_hour: 0.06, gpu_hour: {A100: 2.4, H100: 4}}
    speed: 1.6
  - id: seattle-bulk
    node: Seattle
    capacity: {cpu_cores: 1024, memory_gib: 4096}
    labels: {region: us-west, tier: bulk}
    price: {cpu_core_hour: 0.008}
    speed: 0.8
    queue_wait_s: 60
"""#
