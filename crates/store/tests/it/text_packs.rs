//! A clinic's text packs.

use bordin_core::registry::PLACEHOLDER_PACKS;
use bordin_core::Setting;

use crate::support::{fresh_store, T0};

async fn text_packs_put_replace_and_list() {
    let (store, _g) = fresh_store().await;
    let a = store
        .create_clinic("A", Setting::Therapy, T0)
        .await
        .unwrap();
    let b = store
        .create_clinic("B", Setting::Therapy, T0)
        .await
        .unwrap();
    assert!(store.text_packs(&a.clinic_id).await.unwrap().is_empty());

    let (_, wai_sr) = PLACEHOLDER_PACKS[0];
    let (_, wai_srt) = PLACEHOLDER_PACKS[1];
    store
        .put_text_pack(&a.clinic_id, "wai_srt", wai_srt, "admin", T0)
        .await
        .unwrap();
    store
        .put_text_pack(&a.clinic_id, "wai_sr", wai_sr, "admin", T0)
        .await
        .unwrap();
    assert_eq!(
        store.text_packs(&a.clinic_id).await.unwrap(),
        vec![
            ("wai_sr".to_owned(), wai_sr.to_owned()),
            ("wai_srt".to_owned(), wai_srt.to_owned())
        ],
        "listed by instrument id, stored verbatim"
    );

    let replaced = format!("{wai_sr}\n# revised\n");
    store
        .put_text_pack(&a.clinic_id, "wai_sr", &replaced, "admin", T0 + 1)
        .await
        .unwrap();
    let packs = store.text_packs(&a.clinic_id).await.unwrap();
    assert_eq!(packs.len(), 2);
    assert_eq!(packs[0], ("wai_sr".to_owned(), replaced));

    assert!(
        store.text_packs(&b.clinic_id).await.unwrap().is_empty(),
        "another clinic sees none"
    );
}

bordin_store::both_backends!(text_packs_put_replace_and_list,);
