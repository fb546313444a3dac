//! What the black-box tests (main.rs, a module per area) share.

/// Declares each listed `async fn(TestApp)` as a test on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = gateway_testkit::TestApp::builder().scripted().spawn().await.expect("sqlite");
                    super::$name(app).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(app) = gateway_testkit::TestApp::builder().db(gateway_testkit::Db::Postgres).scripted().spawn().await {
                        super::$name(app).await;
                    }
                }
            )*
        }
    };
}
