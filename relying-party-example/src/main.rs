//! The sample relying party. Its integration (discovery, code flow with PKCE,
//! logout) arrives with its own issue; until then it only explains itself.

fn main() {
    println!("relying-party-example: not implemented yet; see README.md for the provider's quick start");
}
