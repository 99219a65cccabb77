fn main() {
    // Migrations are embedded at compile time; rebuild when one is added or changed.
    println!("cargo:rerun-if-changed=migrations");
}
