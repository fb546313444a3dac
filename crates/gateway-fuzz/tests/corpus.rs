//! Every fuzz target over its kept corpus (`fuzz/corpus/<target>/`: seeds, and each input a
//! fuzzing run found failing, kept as a regression test) and over random inputs: each input
//! is answered, without a panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

fn corpus(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(name)
}

#[test]
fn every_target_has_a_corpus_and_answers_it() {
    for target in gateway_fuzz::TARGETS {
        let dir = corpus(target.name);
        let files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: no corpus at {} ({e})", target.name, dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        assert!(!files.is_empty(), "{}: the corpus is empty", target.name);
        for f in files {
            let data = std::fs::read(&f).unwrap();
            let answered = std::panic::catch_unwind(|| (target.run)(&data));
            assert!(answered.is_ok(), "{} panicked on {}", target.name, f.display());
        }
    }
}

#[test]
fn every_fuzz_target_file_names_a_target() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/fuzz_targets");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path().file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut names: Vec<String> = gateway_fuzz::TARGETS.iter().map(|t| t.name.to_owned()).collect();
    names.sort();
    assert_eq!(files, names, "fuzz/fuzz_targets/ and gateway_fuzz::TARGETS list the same targets");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]
    #[test]
    fn random_inputs_are_answered(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048)) {
        for target in gateway_fuzz::TARGETS {
            (target.run)(&data);
        }
    }
}
