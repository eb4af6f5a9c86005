-- A clerk's claim shows the decision history of the whole clave: look it up by clave, not by a
-- scan of every decision of the night.
CREATE INDEX review_decisions_clave ON review_decisions (clave_acta, decision_id);
