//! What the provider writes to account holders. Each message says why it
//! comes, what to do, and what to do if it was not you.

use crate::PasswordProvider;

/// A message, before it is queued.
pub struct Letter {
    /// Subject.
    pub subject: String,
    /// Body.
    pub text: String,
}

const SIGNATURE: &str = "\nCeci est un message automatique : merci de ne pas y répondre.\n(Service de démonstration de Passerelle : les comptes sont fictifs.)\n";

/// Sends a letter as the provider; a failure is logged, not shown: the
/// outbox is durable, and the page says the same either way.
pub async fn send(idp: &PasswordProvider, to: &str, letter: Letter) {
    let Some(mailer) = &idp.mailer else {
        tracing::warn!(provider = %idp.config.id, "no [mail]: message not sent");
        return;
    };
    let message = mail::Message {
        to: to.to_owned(),
        subject: letter.subject,
        text: letter.text,
        sender: Some(idp.config.name.clone()),
    };
    if let Err(error) = mailer.queue(&message).await {
        tracing::error!(provider = %idp.config.id, %error, "message not queued");
    }
}

/// The activation link of a new account (24 h, once).
pub fn activation(name: &str, link: &str) -> Letter {
    Letter {
        subject: format!("{name} - Activation de l'accès à mon espace"),
        text: format!(
            "Bonjour,\n\nVous avez demandé la création de votre espace {name}.\n\nPour l'activer, ouvrez ce lien. Il est valable 24 heures et ne sert qu'une fois :\n{link}\n\nSi vous n'êtes pas à l'origine de cette demande, ignorez ce message : aucun compte ne sera activé.\n{SIGNATURE}"
        ),
    }
}

/// Someone went through the creation for a person who has an account.
pub fn already_exists(name: &str, public_url: &str) -> Letter {
    Letter {
        subject: format!("{name} - Vous avez déjà un espace"),
        text: format!(
            "Bonjour,\n\nUne demande de création d'espace {name} a été faite avec vos identifiants, mais vous avez déjà un espace : aucun nouveau compte n'a été créé.\n\nSi vous avez oublié votre mot de passe, choisissez-en un nouveau ici :\n{public_url}/mot-de-passe-oublie\n\nSi vous n'êtes pas à l'origine de cette demande, ignorez ce message.\n{SIGNATURE}"
        ),
    }
}

/// The identifier assigned by an ANTS-style provider.
pub fn identifier(name: &str, login: &str, public_url: &str) -> Letter {
    Letter {
        subject: format!("{name} - Votre identifiant"),
        text: format!(
            "Bonjour,\n\nVotre espace {name} est prêt.\n\nVotre identifiant : {login}\n\nAvec cet identifiant et le mot de passe que vous avez choisi, connectez-vous pour faire une autre démarche ou reprendre une démarche commencée :\n{public_url}/login\n\nConservez ce message : vous devrez vous identifier à chaque connexion.\n{SIGNATURE}"
        ),
    }
}

/// The link to choose a new password (1 h, once).
pub fn reset(name: &str, link: &str) -> Letter {
    Letter {
        subject: format!("{name} - Réinitialisation de votre mot de passe"),
        text: format!(
            "Bonjour,\n\nPour choisir un nouveau mot de passe, ouvrez ce lien. Il est valable une heure et ne sert qu'une fois :\n{link}\n\nSi vous n'avez rien demandé, ignorez ce message : votre mot de passe reste le même.\n{SIGNATURE}"
        ),
    }
}

/// The password was changed.
pub fn password_changed(name: &str, public_url: &str) -> Letter {
    Letter {
        subject: format!("{name} - Votre mot de passe a été modifié"),
        text: format!(
            "Bonjour,\n\nLe mot de passe de votre espace {name} vient d'être modifié.\n\nSi ce n'était pas vous, choisissez-en un nouveau sans attendre :\n{public_url}/mot-de-passe-oublie\n{SIGNATURE}"
        ),
    }
}

/// Too many failures locked the account; the link lifts the lock.
pub fn unlock(name: &str, link: &str) -> Letter {
    Letter {
        subject: format!("{name} - Votre compte est bloqué"),
        text: format!(
            "Bonjour,\n\nÀ la suite de plusieurs essais de mot de passe erronés, l'accès à votre espace {name} est bloqué pour 24 heures.\n\nSi c'était vous, débloquez-le dès maintenant avec ce lien, valable 24 heures et utilisable une fois :\n{link}\n\nSi ce n'était pas vous, quelqu'un essaie peut-être de deviner votre mot de passe : ne débloquez pas le compte, et choisissez un nouveau mot de passe après le blocage.\n{SIGNATURE}"
        ),
    }
}

/// Confirms a new address (sent to it).
pub fn confirm_email(name: &str, link: &str) -> Letter {
    Letter {
        subject: format!("{name} - Confirmez votre nouvelle adresse électronique"),
        text: format!(
            "Bonjour,\n\nPour que cette adresse devienne celle de votre espace {name}, ouvrez ce lien. Il est valable 24 heures et ne sert qu'une fois :\n{link}\n\nSi vous n'avez rien demandé, ignorez ce message : rien ne change.\n{SIGNATURE}"
        ),
    }
}

/// Tells the old address that a change was asked.
pub fn email_change_asked(name: &str, new_address: &str) -> Letter {
    Letter {
        subject: format!("{name} - Changement d'adresse électronique demandé"),
        text: format!(
            "Bonjour,\n\nUn changement de l'adresse électronique de votre espace {name} a été demandé, vers {new_address}. Il prendra effet quand cette nouvelle adresse sera confirmée.\n\nSi ce n'était pas vous, changez votre mot de passe sans attendre.\n{SIGNATURE}"
        ),
    }
}
