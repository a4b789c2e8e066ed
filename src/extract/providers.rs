//! Registered domains whose users, customers or subscribers send mail under the domain's own
//! name through the domain owner's servers: mailbox providers, ISPs, email service providers
//! and SaaS platforms that mail on their users' behalf. A hop under one of them is the
//! provider's relay, never "the sender's own server" (README, "Sender-owned relays").
//!
//! A shipped list (space-separated, by category), kept short; an organisation adds its own
//! partners through the whitelist, not here.

/// Mailbox providers (free and paid webmail).
const MAILBOX: &str = "\
    outlook.com hotmail.com live.com msn.com gmail.com googlemail.com google.com yahoo.com \
    yahoo.co.uk yahoo.co.jp ymail.com aol.com icloud.com me.com mac.com gmx.com gmx.de \
    gmx.net gmx.at gmx.ch web.de mail.ru inbox.ru list.ru bk.ru yandex.ru yandex.com \
    rambler.ru proton.me protonmail.com pm.me tutanota.com tuta.io zoho.com zohomail.com \
    mail.com fastmail.com fastmail.fm messagingengine.com hushmail.com mailbox.org posteo.de \
    seznam.cz wp.pl o2.pl onet.pl interia.pl qq.com 163.com 126.com sina.com sohu.com \
    naver.com daum.net rediffmail.com ukr.net libero.it laposte.net";

/// Internet service providers that give their customers addresses under their own domain.
const ISP: &str = "\
    t-online.de freenet.de arcor.de vodafone.de 1und1.de ionos.de strato.de tpg.com.au \
    bigpond.com bigpond.net.au optusnet.com.au iinet.net.au internode.on.net comcast.net \
    verizon.net att.net sbcglobal.net bellsouth.net charter.net cox.net earthlink.net \
    frontier.com windstream.net centurylink.net shaw.ca rogers.com sympatico.ca telus.net \
    videotron.ca btinternet.com btopenworld.com sky.com virginmedia.com blueyonder.co.uk \
    ntlworld.com talktalk.net orange.fr wanadoo.fr free.fr sfr.fr neuf.fr bbox.fr tiscali.it \
    alice.it tin.it virgilio.it fastwebnet.it ziggo.nl kpnmail.nl planet.nl xs4all.nl \
    home.nl telenet.be skynet.be bluewin.ch sunrise.ch chello.at aon.at telia.com online.no \
    telenor.no tele2.se kabelmail.de netcologne.de ewetel.net versanet.de sonic.net \
    ocn.ne.jp nifty.com so-net.ne.jp xtra.co.nz spark.co.nz eircom.net telkomsa.net \
    movistar.es telefonica.net terra.com.br uol.com.br bol.com.br prodigy.net.mx";

/// Email service providers and platforms that send notifications, tickets and newsletters
/// under their own domain for their users and customers.
const PLATFORM: &str = "\
    amazonses.com sendgrid.net sendgrid.com mailgun.org mailgun.net mailchimp.com mcsv.net \
    mcdlv.net mandrillapp.com rsgsv.net sparkpostmail.com postmarkapp.com mtasv.net \
    constantcontact.com ccsend.com exacttarget.com salesforce.com force.com marketo.com \
    mktomail.com hubspot.com hubspotemail.net hs-email.net sendinblue.com brevo.com \
    mailjet.com klaviyo.com campaignmonitor.com createsend.com cmail19.com cmail20.com \
    zendesk.com freshdesk.com intercom.io intercom-mail.com helpscout.net github.com \
    gitlab.com atlassian.net atlassian.com bitbucket.org slack.com facebookmail.com \
    linkedin.com twitter.com x.com microsoft.com microsoftonline.com sharepointonline.com \
    apple.com amazon.com docusign.net docusign.com dropbox.com box.com paypal.com ebay.com \
    squarespace.com wix.com shopify.com mailerlite.com aweber.com getresponse.com \
    icontact.com sourceforge.net googlegroups.com groups.io freelists.org yahoogroups.com";

/// Is this registered domain a provider's, whose relays serve many unrelated senders?
pub(crate) fn is_provider(registered: &str) -> bool {
    [MAILBOX, ISP, PLATFORM].iter().any(|l| l.split_whitespace().any(|d| d == registered))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_whole_registered_domains() {
        for d in ["gmail.com", "t-online.de", "tpg.com.au", "zendesk.com", "github.com", "laposte.net"] {
            assert!(is_provider(d), "{d}");
        }
        for d in ["evil-sender.top", "mail.com.evil.top", "github.co", "com", ""] {
            assert!(!is_provider(d), "{d}");
        }
    }
}
