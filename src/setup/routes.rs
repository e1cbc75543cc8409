//! `/api/v1/setup`: what the first-run page asks and does.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::{SetupKind, claim, is_open, live_now};
use crate::accounts::Role;
use crate::accounts::routes::{RegisterRequest, UserView};
use crate::accounts::service::{self, NewAccount};
use crate::consultations::bookings::ConsultConfig;
use crate::db::{self, Db};
use crate::error::{ApiError, ErrorBody};
use crate::orders::service::CommerceConfig;
use crate::payments::sandbox::Sandbox;
use crate::recommend::actor::Rebuild;
use crate::recommend::service::Recommendations;
use crate::seed;

/// Whether the first-run page should be offered.
#[derive(Serialize, ToSchema)]
pub struct SetupStatus {
    /// True while the database has no account and setup has not run.
    pub open: bool,
}

/// One demo account, shown on the page after loading.
#[derive(Serialize, ToSchema)]
pub struct DemoAccount {
    /// Sign-in address.
    pub email: String,
    /// Public name.
    pub display_name: String,
    /// Role of the account.
    pub role: Role,
}

/// A live session in progress that a newcomer can step into.
#[derive(Serialize, ToSchema)]
pub struct LiveNow {
    /// Live session id (room `class:<id>`).
    pub id: String,
    /// The course it belongs to.
    pub course_id: String,
    /// Session title.
    pub title: String,
}

/// What loading the demo data created.
#[derive(Serialize, ToSchema)]
pub struct DemoLoaded {
    /// The password every demo account shares.
    pub password: String,
    /// The demo accounts.
    pub accounts: Vec<DemoAccount>,
    /// Live sessions in progress.
    pub live_sessions: Vec<LiveNow>,
}

/// Tells whether first-run setup is still possible.
#[utoipa::path(get, path = "/api/v1/setup", tag = "setup",
    responses((status = 200, description = "Setup status", body = SetupStatus)))]
pub async fn status(db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    let open = db.run(|c| is_open(c).map_err(ApiError::from)).await?;
    Ok(HttpResponse::Ok().json(SetupStatus { open }))
}

/// Creates the first admin; only on an empty database, and only once.
#[utoipa::path(post, path = "/api/v1/setup/admin", tag = "setup",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Admin created; sign in with these credentials", body = UserView),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 409, description = "The database is not empty or setup already ran", body = ErrorBody),
    ))]
pub async fn create_admin(
    db: web::Data<Db>,
    body: web::Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let new = NewAccount::parse(&body.email, &body.password, &body.display_name)?;
    let user = db
        .run(move |c| {
            db::write_transaction(c, |c| {
                claim(c, SetupKind::Admin)?;
                Ok::<_, ApiError>(service::create_user(c, &new, Role::Admin)?)
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(UserView::from(user)))
}

/// Loads the demo data set (accounts, courses, a live session in progress, experts); only on an
/// empty database, and only once.
#[utoipa::path(post, path = "/api/v1/setup/demo", tag = "setup",
    responses(
        (status = 201, description = "Demo data loaded", body = DemoLoaded),
        (status = 409, description = "The database is not empty or setup already ran", body = ErrorBody),
    ))]
pub async fn load_demo(
    db: web::Data<Db>,
    sandbox: web::Data<Sandbox>,
    commerce: web::Data<CommerceConfig>,
    consult: web::Data<ConsultConfig>,
    recs: web::Data<Recommendations>,
) -> Result<HttpResponse, ApiError> {
    db.run(|c| db::write_transaction(c, |c| claim(c, SetupKind::Demo).map_err(ApiError::from)))
        .await?;
    // The seed pays through the sandbox, which has its own pool, so it cannot run inside the
    // claim's transaction; it is idempotent, so `seed-demo` completes an interrupted load.
    let (sandbox, commerce, consult) = (
        sandbox.into_inner(),
        commerce.into_inner(),
        consult.into_inner(),
    );
    let live = db
        .run(move |c| {
            let shop = seed::DemoShop {
                sandbox: &sandbox,
                commerce: &commerce,
                consult: &consult,
            };
            seed::seed_demo(c, &shop).map_err(|e| ApiError::Unexpected(e.into()))?;
            Ok::<_, ApiError>(live_now(c)?)
        })
        .await?;
    // The index was built from an empty database; the demo courses must be recommendable now.
    if let Err(e) = recs.actor.send(Rebuild).await {
        tracing::warn!(error = %e, "recommendation rebuild after the demo load failed");
    }
    Ok(HttpResponse::Created().json(DemoLoaded {
        password: seed::DEMO_PASSWORD.to_owned(),
        accounts: seed::PEOPLE
            .iter()
            .map(|(email, name, role)| DemoAccount {
                email: (*email).to_owned(),
                display_name: (*name).to_owned(),
                role: *role,
            })
            .collect(),
        live_sessions: live
            .into_iter()
            .map(|(id, course_id, title)| LiveNow {
                id,
                course_id,
                title,
            })
            .collect(),
    }))
}
